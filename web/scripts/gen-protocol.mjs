// Generates src/protocol.generated.ts from the server's protocol models.
// Input (stdin): the JSON of order_agent.edge.protocol.json_schemas(), {"client": …, "server": …}.
// Output (stdout): TypeScript types. `make web-protocol` writes the file; `make web-protocol-check`
// regenerates it and fails when the committed file differs, so client and server cannot drift.
import { compile } from "json-schema-to-typescript";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const schemas = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const options = {
  bannerComment: "",
  additionalProperties: false,
  format: true,
  strictIndexSignatures: true,
  style: { printWidth: 110, semi: true, singleQuote: false },
};

const parts = [
  "/* eslint-disable */",
  "// GENERATED from order_agent.edge.protocol by web/scripts/gen-protocol.mjs (`make web-protocol`).",
  "// Do not edit: `make test` fails when this file differs from what the server's models generate.",
  "",
];
// pydantic titles every property ("Sessionid"); without the titles the fields stay plain types
// instead of becoming one alias each (which would also clash between the two directions).
function untitled(node, isModel = true) {
  if (Array.isArray(node)) return node.map((n) => untitled(n, false));
  if (!node || typeof node !== "object") return node;
  const copy = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "title" && !isModel) continue;
    if (key === "properties") {
      copy[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, untitled(v, false)]));
    } else if (key === "$defs") {
      copy[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, untitled(v, true)]));
    } else {
      copy[key] = untitled(value, false);
    }
  }
  return copy;
}

for (const [name, key] of [["ClientMessage", "client"], ["ServerFrame", "server"]]) {
  const schema = { ...untitled(schemas[key]), title: name };
  parts.push((await compile(schema, name, options)).trim(), "");
}
process.stdout.write(parts.join("\n"));
