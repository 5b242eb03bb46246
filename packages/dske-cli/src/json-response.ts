/** The answer of a node:http request as `{status, data}`: the body parsed as JSON when it is JSON, else the text. */
import type http from "node:http";

export function readJsonResponse(res: http.IncomingMessage): Promise<{ status: number; data: unknown }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("error", reject);
    res.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let data: unknown = text;
      try {
        data = JSON.parse(text) as unknown;
      } catch {
        // not JSON: the text itself (for the error report)
      }
      resolve({ status: res.statusCode ?? 0, data });
    });
  });
}
