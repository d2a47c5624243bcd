/**
 * Liveness and readiness: `/healthz` says the process works (the event loop answers), `/readyz` says it can
 * be trusted: every cache synced and heard from recently. A check answers undefined when healthy, or why not.
 * Output follows the apiserver's probe format (`[+]name ok` / `[-]name failed: reason`), `?verbose` optional.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type HealthCheck = () => string | undefined | Promise<string | undefined>;

export interface ProbeResult {
  ok: boolean;
  lines: string[];
}

export class HealthChecks {
  private readonly live = new Map<string, HealthCheck>();
  private readonly ready = new Map<string, HealthCheck>();

  addLiveness(name: string, check: HealthCheck): void {
    this.live.set(name, check);
  }

  addReadiness(name: string, check: HealthCheck): void {
    this.ready.set(name, check);
  }

  removeReadiness(name: string): void {
    this.ready.delete(name);
  }

  liveness(): Promise<ProbeResult> {
    return evaluate(this.live);
  }

  readiness(): Promise<ProbeResult> {
    return evaluate(this.ready);
  }

  /** Serves `/healthz`, `/livez` and `/readyz`. */
  handler(): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
    return async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://probe');
      const probe = url.pathname === '/healthz' || url.pathname === '/livez' ? this.liveness : url.pathname === '/readyz' ? this.readiness : undefined;
      if (!probe) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        return;
      }
      const r = await probe.call(this);
      const verbose = url.searchParams.has('verbose') || !r.ok;
      const body = (verbose ? r.lines.join('\n') + '\n' : '') + (r.ok ? `${url.pathname.slice(1)} check passed\n` : `${url.pathname.slice(1)} check failed\n`);
      res.writeHead(r.ok ? 200 : 500, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' }).end(body);
    };
  }
}

async function evaluate(checks: Map<string, HealthCheck>): Promise<ProbeResult> {
  const lines: string[] = [];
  let ok = true;
  for (const [name, check] of checks) {
    let failure: string | undefined;
    try {
      failure = await check();
    } catch (e) {
      failure = e instanceof Error ? e.message : String(e);
    }
    if (failure === undefined) lines.push(`[+]${name} ok`);
    else {
      ok = false;
      lines.push(`[-]${name} failed: ${failure}`);
    }
  }
  return { ok, lines };
}
