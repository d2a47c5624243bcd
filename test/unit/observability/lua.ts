/**
 * Runs Argo CD health scripts in gopher-lua, the Lua 5.1 engine Argo CD embeds, through test/tools/luahealth (built
 * from its Go module like the other test tools, so no system Lua is needed). Like Argo CD, the tool hands a script
 * the live object as the global `obj` (JSON turned into Lua tables, null dropped) and reads `status` and `message`
 * from the table the script returns.
 */
import { ensureTools, run } from '../../support/tools.js';

export interface HealthStatus {
  status: string;
  message: string;
}

/** Path of the gopher-lua health runner, building it on first use. */
export async function gopherLua(): Promise<string> {
  return (await ensureTools()).luahealth;
}

/** Runs `script` once per object (each in a fresh VM) and returns what each run returned. */
export function runHealthScript(luahealth: string, script: string, objects: readonly unknown[]): HealthStatus[] {
  const out = JSON.parse(run(luahealth, [], JSON.stringify({ script, objects }))) as HealthStatus[];
  if (out.length !== objects.length) throw new Error(`expected ${objects.length} results from luahealth, got ${out.length}`);
  return out;
}
