/**
 * How the pool logs in with a password: first the free `none` request (RFC 4252 5.2; it checks no credential and
 * answers with the methods the server accepts), then the password once, by `password` when the server offers it,
 * else by `keyboard-interactive` (RFC 4256, usual behind PAM) answering the hidden prompt with the same password.
 * The credential counts as rejected only when the server checked it and refused it: a server that offers neither
 * method, or asks something the operator cannot answer, is a configuration problem (SshAuthUnsupportedError), never
 * a guard record. A second prompt round after the password was sent (PAM asking again after a wrong password) ends
 * the login there: the password is sent once per connection.
 *
 * Hand-written because ssh2's built-in handler tries every configured method in turn and answers no prompts.
 */
import type { AuthenticationType, AuthHandlerMiddleware, KeyboardInteractiveCallback, Prompt } from 'ssh2';
import { LunaError } from './errors.js';

/** What one login did: whether the password reached the server, and what the server offered. */
export interface PasswordLogin {
  /** The password was sent (by password or as a keyboard-interactive answer): a refusal is a rejection. */
  sent: boolean;
  /** Methods the server named after `none`. */
  offered: AuthenticationType[] | undefined;
  /** Why no password could be sent, when none was. */
  unsupported?: string;
  /** The server asked again after the password went out (a refusal); the login was ended there. */
  refusedByPrompt?: boolean;
}

/** The server offers no way to present a password (or asks what the operator cannot answer). Not a rejection. */
export class SshAuthUnsupportedError extends LunaError {
  override name = 'SshAuthUnsupportedError';
  constructor(
    readonly host: string,
    readonly detail: string,
  ) {
    super(`SSH login to ${host} is not possible with a password: ${detail}; nothing was sent, no login attempt was spent`);
  }
}

const HIDDEN_PROMPT = /pass(word|code|phrase)?|pin\b/i;

/** `abort` ends the connection: used instead of answering a prompt the operator must not answer. */
export function passwordAuthHandler(username: string, password: string, state: PasswordLogin, abort: () => void): AuthHandlerMiddleware {
  let step: 'none' | 'method' | 'done' = 'none';
  const handler = (methodsLeft: AuthenticationType[] | null, _partial: boolean | null, next: (auth: unknown) => void): void => {
    if (step === 'none') {
      step = 'method';
      next({ type: 'none', username });
      return;
    }
    if (step === 'done' || methodsLeft === null) {
      next(false);
      return;
    }
    step = 'done';
    state.offered = methodsLeft;
    if (methodsLeft.includes('password')) {
      state.sent = true;
      next({ type: 'password', username, password });
      return;
    }
    if (methodsLeft.includes('keyboard-interactive')) {
      let rounds = 0;
      next({
        type: 'keyboard-interactive',
        username,
        prompt: (_name: string, _instructions: string, _lang: string, prompts: Prompt[], finish: KeyboardInteractiveCallback): void => {
          rounds++;
          const hidden = prompts.filter((p) => p.echo !== true);
          if (rounds > 1 && state.sent) {
            // Asked again after the password went out: that was a refusal; any answer would be a second attempt.
            state.refusedByPrompt = true;
            abort();
            return;
          }
          if (prompts.length !== 1 || hidden.length !== 1 || !HIDDEN_PROMPT.test(prompts[0]?.prompt ?? '')) {
            // An empty or guessed answer would be checked (and counted) as a password: end the login instead.
            state.unsupported = `the server asks ${JSON.stringify(prompts.map((p) => p.prompt.trim()))} by keyboard-interactive, not only a password`;
            abort();
            return;
          }
          state.sent = true;
          finish([password]);
        },
      });
      return;
    }
    state.unsupported = `the server offers only ${methodsLeft.join(', ') || 'no method'} (neither password nor keyboard-interactive)`;
    next(false);
  };
  return handler as unknown as AuthHandlerMiddleware;
}
