/**
 * Wire format of the DSKE hub (v1, reference compatible, plus negotiated extensions): the barrel
 * of the concept files below.
 *
 * Every request body / query and every response body of the hub has a zod 4 schema and an
 * inferred type. The hub router validates requests with these schemas; `HubApi` (the typed
 * client) validates responses with them. Object schemas strip unknown fields (forward
 * compatibility: "unknown fields ignored").
 *
 * Paths (relative to the hub base URL `http(s)://HOST:PORT/hub/{hub_name}`):
 *
 * | method | path                              | signed | request                    | response                   |
 * |--------|-----------------------------------|--------|----------------------------|----------------------------|
 * | PUT    | /dske/oob/v1/registration          | no     | RegistrationRequest (body) | RegistrationResponse       |
 * | DELETE | /dske/oob/v1/registration          | no     | UnregistrationQuery        | UnregistrationResponse     |
 * | GET    | /dske/oob/v1/psrd                  | no     | PsrdQuery                  | PsrdResponse               |
 * | POST   | /dske/api/v1/key-share             | yes    | PostKeyShareRequest        | PostKeyShareResponse (`{}`)|
 * | GET    | /dske/api/v1/key-share             | yes    | GetKeyShareQuery           | GetKeyShareResponse        |
 * | POST   | /dske/api/v1/key-shares            | yes    | PostKeySharesRequest       | PostKeySharesResponse      |
 * | POST   | /dske/api/v1/key-shares/fetch      | yes    | FetchKeySharesRequest      | FetchKeySharesResponse     |
 * | POST   | /dske/api/v1/key-shares/meta       | yes    | ShareMetaRequest           | ShareMetaResponse          |
 * | POST   | /dske/api/v1/key-shares/held       | no     | SharesHeldRequest          | SharesHeldResponse         |
 * | POST   | /dske/api/v1/psrd-confirm          | yes    | PsrdConfirmRequest         | PsrdConfirmResponse        |
 * | POST   | /mgmt/v1/psrd-bundles              | no     | IssueBundleRequest         | IssueBundleResponse        |
 * | GET    | /mgmt/v1/status                    | no     | -                          | HubStatus                  |
 * | POST   | /mgmt/v1/stop                      | no     | -                          | StopResponse               |
 *
 * Responses of a reference hub: POST key-share answers `null` (accepted: PostKeyShareReceivedSchema),
 * POST stop `{result}` (accepted: StopReceivedSchema).
 *
 * Errors: every non-2xx response carries `ErrorBody` = `{message, details?}`:
 * 400 validation (zod issues in details), 401 signature / unknown signer, 404 unknown client or
 * no share available to the caller (the two are deliberately indistinguishable), 409 conflict
 * (auth scheme change while registered, encryptor hosted by another client, duplicate share),
 * 413 body too big, 503 PSRD exhausted (see errors.ts).
 *
 * Where each schema is:
 *
 * | file              | concept                                                                  |
 * |-------------------|--------------------------------------------------------------------------|
 * | ids.ts            | names, SAE / key / block IDs, limits, auth schemes, extension names      |
 * | allocation.ts     | PSRD allocations (fragments) and their camelCase conversions             |
 * | errors.ts         | `ErrorBody` and the error statuses                                       |
 * | registration.ts   | registration and unregistration                                          |
 * | psrd.ts           | PSRD out-of-band delivery and in-band confirmation                       |
 * | share.ts          | key shares: single, batch, fetch, ack, meta, held; the release rules     |
 * | management.ts     | hub status, PSRD bundles, stop                                           |
 */
export * from "./ids.js";
export * from "./allocation.js";
export * from "./errors.js";
export * from "./registration.js";
export * from "./psrd.js";
export * from "./share.js";
export * from "./management.js";
