/**
 * axios, loaded on its first use: the ETSI, PSRD and dashboard calls need it, while `start`,
 * `stop` and `status` (node:http, mgmt.ts) do not, and loading it costs every command about 0.14 s.
 */
import type { AxiosStatic } from "axios";

let loaded: Promise<AxiosStatic> | undefined;

export function loadAxios(): Promise<AxiosStatic> {
  loaded ??= import("axios").then((m) => m.default);
  return loaded;
}
