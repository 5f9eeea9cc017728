// A database of its own for one benchmark run: created empty and migrated, dropped afterwards. A
// benchmark that wrote into the shared database measured that database's history instead (100k
// accepts that were deleted again left it at 5.8 GB of dead rows, and the 100k accept ran 1.5×
// slower on it than on a fresh one).
import { randomBytes } from "node:crypto";
import { migrate } from "@powersweep/runtime";
import pg from "pg";

export interface ThrowawayDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates and migrates a new database on the server of `baseUrl`. */
export async function throwawayDatabase(baseUrl: string): Promise<ThrowawayDatabase> {
  const admin = new URL(baseUrl);
  admin.pathname = "/postgres";
  const name = `powersweep_bench_${Date.now().toString(36)}_${randomBytes(2).toString("hex")}`;
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const onAdmin = async (sql: string) => {
    const client = new pg.Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await onAdmin(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  const drop = () => onAdmin(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  try {
    await migrate(url.toString());
  } catch (e) {
    await drop();
    throw e;
  }
  return { url: url.toString(), drop };
}
