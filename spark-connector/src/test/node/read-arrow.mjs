// Prints an Arrow IPC file as JSON with Arrow JS: {"rows": n, "columns": [...], "records": [...]}.
import { readFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';

const table = tableFromIPC(readFileSync(process.argv[2]));
const records = table.toArray().map((r) => JSON.parse(JSON.stringify(r.toJSON(), (k, v) => (typeof v === 'bigint' ? Number(v) : v))));
console.log(JSON.stringify({ rows: table.numRows, columns: table.schema.fields.map((f) => f.name), records }));
