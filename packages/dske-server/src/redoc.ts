/**
 * The `/redoc` page: a ReDoc-style reference of a node's OpenAPI document, rendered here on the
 * server into one static HTML page (navigation by tag, every operation with its parameters,
 * request body, responses and security, then every named schema). No script and no external
 * asset: it works offline and under a strict Content-Security-Policy (`contentSecurityPolicy`
 * pins the page's one inline style by its hash). Why not ReDoc itself: its standalone bundle is
 * about a megabyte of JavaScript (React included) for what a static rendering of the same
 * document shows; `/docs` (Swagger UI) remains the interactive page.
 */
import { createHash } from "node:crypto";
import type { JsonObject, OpenApiDocument } from "./openapi.js";

const STYLE = `body{margin:0;font:15px/1.5 system-ui,sans-serif;color:#222;display:flex}
nav{position:sticky;top:0;height:100vh;overflow:auto;width:19rem;flex:none;background:#f4f5f7;border-right:1px solid #ddd;padding:1rem;box-sizing:border-box;font-size:13px}
nav h2{font-size:12px;text-transform:uppercase;color:#666;margin:1rem 0 .3rem}nav a{display:block;color:#223;text-decoration:none;padding:1px 0}
main{padding:1.5rem 2.5rem;max-width:60rem;min-width:0}section.op{border-top:1px solid #ddd;padding:1rem 0}
.m{display:inline-block;min-width:4.2em;text-align:center;border-radius:3px;color:#fff;font:bold 12px monospace;padding:2px 4px;margin-right:.5em}
.get{background:#2f8132}.post{background:#186fbf}.put{background:#95507c}.delete{background:#cc3333}.patch{background:#bf581d}
code,.path{font-family:ui-monospace,monospace;font-size:13px}.path{font-weight:bold}table{border-collapse:collapse;margin:.3rem 0 .8rem}
td,th{border:1px solid #e2e2e2;padding:3px 8px;text-align:left;vertical-align:top;font-size:13px}th{background:#fafafa}
.t{color:#6b3fa0;font-family:ui-monospace,monospace;font-size:12px}.req{color:#c33;font-size:11px}.note{color:#555}
ul.s{margin:.2rem 0 .2rem 1rem;padding-left:.8rem;border-left:2px solid #eee;list-style:none}`;

const STYLE_HASH = createHash("sha256").update(STYLE).digest("base64");

/** The CSP of the page: nothing loads, nothing runs; only its own inline style applies. */
export function redocContentSecurityPolicy(): string {
  return `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
}

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Escaped text with `code` spans (the documents' descriptions use Markdown backticks). */
function text(s: unknown): string {
  return esc(s).replace(/`([^`]+)`/g, "<code>$1</code>");
}

function obj(v: unknown): JsonObject | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

const REF_PREFIX = "#/components/schemas/";
const anchor = (kind: string, name: string) => `${kind}-${name.replace(/[^A-Za-z0-9_-]/g, "_")}`;

/** A one-line summary of a schema: its type, format and constraints; named schemas as links. */
function typeOf(schema: unknown): string {
  const s = obj(schema);
  if (s === undefined) return '<span class="t">anything</span>';
  const ref = s.$ref;
  if (typeof ref === "string" && ref.startsWith(REF_PREFIX)) {
    const name = ref.slice(REF_PREFIX.length);
    return `<a class="t" href="#${anchor("schema", name)}">${esc(name)}</a>`;
  }
  const alts = list(s.anyOf).length > 0 ? list(s.anyOf) : list(s.oneOf);
  if (alts.length > 0) return alts.map(typeOf).join(" | ");
  if ("const" in s) return `<span class="t">${esc(JSON.stringify(s.const))}</span>`;
  if (Array.isArray(s.enum)) return `<span class="t">one of ${s.enum.map((e) => esc(JSON.stringify(e))).join(", ")}</span>`;
  const type = Array.isArray(s.type) ? s.type.map(String).join(" | ") : typeof s.type === "string" ? s.type : "anything";
  if (type === "array") return `<span class="t">array of</span> ${typeOf(s.items)}${limits(s)}`;
  return `<span class="t">${esc(type)}${typeof s.format === "string" ? ` (${esc(s.format)})` : ""}</span>${limits(s)}`;
}

function limits(s: JsonObject): string {
  const parts: string[] = [];
  const pairs: [string, string][] = [
    ["minimum", "≥"],
    ["maximum", "≤"],
    ["minLength", "min length"],
    ["maxLength", "max length"],
    ["minItems", "min items"],
    ["maxItems", "max items"],
  ];
  for (const [key, label] of pairs) {
    const v = s[key];
    if (typeof v === "number" && !(key === "maximum" && v >= Number.MAX_SAFE_INTEGER)) parts.push(`${label} ${v}`);
  }
  if (typeof s.pattern === "string" && s.pattern.length <= 80) parts.push(`pattern <code>${esc(s.pattern)}</code>`);
  if (s.default !== undefined) parts.push(`default <code>${esc(JSON.stringify(s.default))}</code>`);
  return parts.length > 0 ? ` <span class="note">(${parts.join(", ")})</span>` : "";
}

/** An object schema's properties as a nested list (inline objects and arrays of them expanded). */
function fields(schema: unknown, depth = 0): string {
  const s = obj(schema);
  if (s === undefined || depth > 6) return "";
  const inner = s.type === "array" ? obj(s.items) : s;
  const props = obj(inner?.properties);
  if (inner === undefined || props === undefined || Object.keys(props).length === 0) {
    return inner?.additionalProperties !== undefined && inner.additionalProperties !== false
      ? `<ul class="s"><li class="note">further members allowed</li></ul>`
      : "";
  }
  const required = new Set(list(inner.required).map(String));
  const items = Object.entries(props).map(([name, p]) => {
    const po = obj(p);
    const desc = typeof po?.description === "string" ? ` — ${text(po.description)}` : "";
    const req = required.has(name) ? ' <span class="req">required</span>' : "";
    return `<li><code>${esc(name)}</code>: ${typeOf(p)}${req}${desc}${fields(p, depth + 1)}</li>`;
  });
  return `<ul class="s">${items.join("")}</ul>`;
}

function schemaBlock(schema: unknown): string {
  return `${typeOf(schema)}${fields(schema)}`;
}

interface Operation {
  method: string;
  path: string;
  op: JsonObject;
  id: string;
}

function operations(doc: OpenApiDocument): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const id = typeof op.operationId === "string" ? op.operationId : `${method}-${path}`;
      out.push({ method, path, op, id });
    }
  }
  return out;
}

function securityOf(op: JsonObject, doc: OpenApiDocument): string {
  const reqs = list(op.security);
  if (reqs.length === 0) return "";
  const names = reqs.flatMap((r) => Object.keys(obj(r) ?? {}));
  const described = names.map((n) => {
    const scheme = obj(doc.components.securitySchemes[n]);
    return `<li><code>${esc(n)}</code>${typeof scheme?.description === "string" ? ` — ${text(scheme.description)}` : ""}</li>`;
  });
  return `<h4>Security (one of)</h4><ul>${described.join("")}</ul>`;
}

function parametersOf(op: JsonObject): string {
  const params = list(op.parameters)
    .map(obj)
    .filter((p): p is JsonObject => p !== undefined);
  if (params.length === 0) return "";
  const rows = params.map(
    (p) =>
      `<tr><td><code>${esc(p.name)}</code>${p.required === true ? ' <span class="req">required</span>' : ""}</td><td>${esc(p.in)}</td>` +
      `<td>${typeOf(p.schema)}</td><td>${typeof p.description === "string" ? text(p.description) : ""}</td></tr>`,
  );
  return `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>${rows.join("")}</table>`;
}

function contentOf(content: unknown): string {
  const c = obj(content);
  if (c === undefined) return "";
  return Object.entries(c)
    .map(([type, media]) => `<div><span class="note">${esc(type)}</span> ${schemaBlock(obj(media)?.schema)}</div>`)
    .join("");
}

function operationHtml(o: Operation, doc: OpenApiDocument): string {
  const { op } = o;
  const body = obj(op.requestBody);
  const responses = Object.entries(obj(op.responses) ?? {}).map(([status, r]) => {
    const ro = obj(r);
    return `<tr><td><b>${esc(status)}</b></td><td>${text(ro?.description ?? "")}${contentOf(ro?.content)}</td></tr>`;
  });
  return (
    `<section class="op" id="${esc(anchor("op", o.id))}"><h3><span class="m ${esc(o.method)}">${esc(o.method.toUpperCase())}</span>` +
    `<span class="path">${esc(o.path)}</span></h3>` +
    (typeof op.summary === "string" ? `<p><b>${text(op.summary)}</b></p>` : "") +
    (typeof op.description === "string" ? `<p>${text(op.description)}</p>` : "") +
    securityOf(op, doc) +
    parametersOf(op) +
    (body ? `<h4>Request body${body.required === true ? ' <span class="req">required</span>' : ""}</h4>${contentOf(body.content)}` : "") +
    `<h4>Responses</h4><table>${responses.join("")}</table></section>`
  );
}

/** The page for `doc` (titled `title`): the same operations and schemas as `{prefix}/openapi.json`. */
export function redocPage(title: string, doc: OpenApiDocument, specUrl: string): string {
  const ops = operations(doc);
  const tags = new Map<string, Operation[]>();
  for (const o of ops) {
    const tag = typeof list(o.op.tags)[0] === "string" ? String(list(o.op.tags)[0]) : "other";
    tags.set(tag, [...(tags.get(tag) ?? []), o]);
  }
  const nav = [...tags.entries()]
    .map(
      ([tag, os]) =>
        `<h2>${esc(tag)}</h2>` +
        os
          .map(
            (o) =>
              `<a href="#${esc(anchor("op", o.id))}"><span class="m ${esc(o.method)}">${esc(o.method.toUpperCase())}</span>${esc(o.path)}</a>`,
          )
          .join(""),
    )
    .join("");
  const schemas = Object.entries(doc.components.schemas)
    .map(([name, s]) => `<section class="op" id="${esc(anchor("schema", name))}"><h3>${esc(name)}</h3>${schemaBlock(s)}</section>`)
    .join("");
  const groups = [...tags.entries()].map(([tag, os]) => `<h2>${esc(tag)}</h2>${os.map((o) => operationHtml(o, doc)).join("")}`).join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} — API reference</title>
<style>${STYLE}</style>
</head>
<body>
<nav><b>${esc(doc.info.title)}</b><br><span class="note">version ${esc(doc.info.version)}</span>${nav}<h2>schemas</h2>${Object.keys(
    doc.components.schemas,
  )
    .map((n) => `<a href="#${esc(anchor("schema", n))}">${esc(n)}</a>`)
    .join("")}</nav>
<main>
<h1>${esc(doc.info.title)}</h1>
${typeof doc.info.description === "string" ? `<p>${text(doc.info.description)}</p>` : ""}
<p class="note">OpenAPI ${esc(doc.openapi)} document: <a href="${esc(specUrl)}">${esc(specUrl)}</a>. Interactive page: <code>docs</code>.</p>
${groups}
<h2>Schemas</h2>
${schemas}
</main>
</body>
</html>
`;
}
