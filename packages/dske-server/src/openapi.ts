/**
 * OpenAPI 3.1 documents generated from route tables (route-table.ts) and their zod schemas with
 * zod 4's built-in `z.toJSONSchema` (JSON Schema 2020-12, the dialect of OpenAPI 3.1). Request
 * schemas are converted on their input side (what a caller may send: defaults optional, coercions
 * shown as their input type), response schemas on their output side. Named body schemas go to
 * `components.schemas` and are referenced; parameters are inlined.
 */
import { z } from "zod";
import { fullPath, type MountedRoutes, type NamedSchema, type RouteSpec } from "./route-table.js";

// why: a JSON Schema / OpenAPI fragment is an open JSON object.
export type JsonObject = Record<string, unknown>;

export interface OpenApiDocument extends JsonObject {
  openapi: "3.1.0";
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, JsonObject>>;
  components: { schemas: Record<string, JsonObject>; securitySchemes: Record<string, JsonObject> };
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

/** Header of signed (DSKE in-band) requests; see @dske/auth. */
const SIGNATURE_PARAMETER: JsonObject = {
  name: "DSKE-Signature",
  in: "header",
  required: true,
  description:
    "Message authentication of the request: `<allocation>;<tag>` (see @dske/auth). The response carries a DSKE-Signature header too. " +
    "Cannot be produced from this page: it needs PSRD shared with the hub.",
  schema: { type: "string" },
};

/** Error body of the operator guard, the cross-site refusal and the content-type check. */
const OperatorRefusalSchema = z.object({ message: z.string(), details: z.array(z.unknown()).optional() });

const SECURITY_SCHEMES: Record<string, JsonObject> = {
  operatorToken: {
    type: "http",
    scheme: "bearer",
    description:
      "Management plane: the topology's operator token (`Authorization: Bearer <token>`; dske-cli keeps it in " +
      "`<state_dir>/operator-token`, mode 0600, and passes it to the nodes with `--operator-token-file`).",
  },
  operatorCertificate: {
    type: "mutualTLS",
    description: "Management plane of a client under mutual TLS: the operator's client certificate (CN `dske-operator`).",
  },
  saeAuthorization: {
    type: "apiKey",
    in: "header",
    name: "Authorization",
    description:
      "Plain-HTTP mode: the calling SAE ID, as `Authorization: <SAE_ID>` or `Authorization: Bearer <SAE_ID>` (not authenticated; " +
      "for local use). With mutual TLS the SAE ID is the client certificate CN instead.",
  },
};

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonObject {
  const out = z.toJSONSchema(schema, { io, target: "draft-2020-12", unrepresentable: "any" }) as JsonObject;
  delete out.$schema;
  if ("$defs" in out) {
    // Refs like #/$defs/x would resolve against the OpenAPI document root: refuse rather than emit a broken document.
    throw new Error("openapi: recursive schemas are not supported");
  }
  return out;
}

/** Build the OpenAPI 3.1 document of one or more mounted route tables. */
export function buildOpenApiDocument(info: OpenApiInfo, mounts: readonly MountedRoutes[]): OpenApiDocument {
  const schemas: Record<string, JsonObject> = {};
  const origin = new Map<string, z.ZodType>();
  const ref = (named: NamedSchema, io: "input" | "output"): JsonObject => {
    const key = named.name;
    const seen = origin.get(key);
    if (seen === undefined) {
      origin.set(key, named.schema);
      schemas[key] = jsonSchema(named.schema, io);
    } else if (seen !== named.schema) {
      throw new Error(`openapi: two different schemas are named ${key}`);
    }
    return { $ref: `#/components/schemas/${key}` };
  };

  const paths: OpenApiDocument["paths"] = {};
  const operationIds = new Set<string>();
  const infrastructure: string[] = [];
  for (const mount of mounts) {
    if (mount.infrastructure) {
      for (const route of mount.routes)
        infrastructure.push(`\`${route.method.toUpperCase()} ${fullPath(mount.prefix, route.path)}\` (${route.summary})`);
      continue;
    }
    if (mount.aliasOf !== undefined) continue; // described on the operations of the aliased mount (below)
    for (const route of mount.routes) {
      const path = fullPath(mount.prefix, route.path);
      const operationId = route.operationId + (mount.operationIdSuffix ?? "");
      if (operationIds.has(operationId)) throw new Error(`openapi: duplicate operationId ${operationId}`);
      operationIds.add(operationId);
      const item = (paths[path] ??= {});
      if (Object.hasOwn(item, route.method)) throw new Error(`openapi: ${route.method.toUpperCase()} ${path} defined twice`);
      item[route.method] = operation(route, operationId, ref);
    }
  }
  for (const alias of mounts) {
    if (alias.aliasOf === undefined) continue;
    for (const route of alias.routes) {
      const item = Object.hasOwn(paths, fullPath(alias.aliasOf, route.path)) ? paths[fullPath(alias.aliasOf, route.path)] : {};
      const op = Object.hasOwn(item, route.method) ? item[route.method] : undefined;
      if (op === undefined)
        throw new Error(`openapi: alias ${route.method.toUpperCase()} ${fullPath(alias.prefix, route.path)} of nothing`);
      const note = `Also served at \`${fullPath(alias.prefix, route.path)}\` (same operation, an alias).`;
      op.description = typeof op.description === "string" ? `${op.description}\n\n${note}` : note;
    }
  }
  const description = [
    ...(info.description !== undefined ? [info.description] : []),
    ...(infrastructure.length > 0 ? [`Infrastructure endpoints (not API operations): ${infrastructure.join("; ")}.`] : []),
  ].join("\n\n");
  return {
    openapi: "3.1.0",
    info: { ...info, ...(description !== "" ? { description } : {}) },
    paths,
    components: { schemas, securitySchemes: { ...SECURITY_SCHEMES } },
  };
}

/**
 * Path and query parameters. The value schema is the output side (what the value means: a
 * coerced `z.coerce.number().pipe(z.int()...)` is an integer with its bounds, not the string the
 * URL carries); whether it is required comes from the input side (a default makes it optional).
 */
function parameters(schema: z.ZodObject | undefined, where: "path" | "query"): JsonObject[] {
  if (!schema) return [];
  const input = jsonSchema(schema, "input");
  const js = jsonSchema(schema, "output");
  const props = (js.properties ?? {}) as Record<string, JsonObject>;
  const required = new Set((input.required ?? []) as string[]);
  return Object.entries(props).map(([name, s]) => {
    const { description, ...rest } = s;
    return {
      name,
      in: where,
      required: where === "path" ? true : required.has(name),
      ...(typeof description === "string" ? { description } : {}),
      schema: rest,
    };
  });
}

function operation(route: RouteSpec, operationId: string, ref: (n: NamedSchema, io: "input" | "output") => JsonObject): JsonObject {
  const op: JsonObject = {
    operationId,
    summary: route.summary,
    tags: [...route.tags],
  };
  if (route.description) op.description = route.description;
  const params = [...parameters(route.pathParams, "path"), ...parameters(route.query, "query")];
  if (route.security === "dske-signature") params.push(SIGNATURE_PARAMETER);
  if (params.length > 0) op.parameters = params;
  if (route.security === "sae-authorization") op.security = [{ saeAuthorization: [] }];
  if (route.security === "operator") op.security = [{ operatorToken: [] }, { operatorCertificate: [] }];
  if (route.body) {
    op.requestBody = {
      required: route.body.required ?? true,
      content: { "application/json": { schema: ref(route.body, "input") } },
    };
  }
  const responses: Record<string, JsonObject> = {};
  for (const [status, r] of Object.entries(route.responses)) {
    const response: JsonObject = { description: r.description };
    if (r.body) response.content = { "application/json": { schema: ref(r.body, "output") } };
    else if (r.media) response.content = { [r.media.type]: { schema: r.media.schema } };
    responses[status] = response;
  }
  if (route.security === "operator") {
    const refusal = (description: string): JsonObject => ({
      description,
      content: { "application/json": { schema: ref({ name: "OperatorRefusal", schema: OperatorRefusalSchema }, "output") } },
    });
    responses["401"] ??= refusal("No operator credential presented (or the node has none configured: management disabled)");
    responses["403"] ??= refusal("Wrong operator credential, or a cross-site request (Origin is not this node)");
    if (route.method !== "get") responses["415"] ??= refusal("Content-Type is not application/json");
  }
  op.responses = responses;
  return op;
}
