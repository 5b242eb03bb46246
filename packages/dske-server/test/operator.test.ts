/**
 * peerCertificateCn (operator.ts): the CN of the caller's verified client certificate, read from
 * the request's TLS socket. Node's TLSSocket#getPeerCertificate returns `{}` when the peer sent
 * no certificate and `null` once the socket is closed (its handle gone): a request line written
 * after the caller hung up read `null.subject` and crashed a KME (found by the netns suite under
 * load). Each case here is a socket as Node hands it over.
 */
import type { Request } from "express";
import { peerCertificateCn } from "../src/index";

const requestOn = (socket: object) => ({ socket }) as unknown as Request;
const tlsSocket = (authorized: boolean, cert: object | null) => ({ authorized, getPeerCertificate: () => cert });

test("a verified certificate: its CN", () => {
  expect(peerCertificateCn(requestOn(tlsSocket(true, { subject: { CN: "sam" } })))).toBe("sam");
});

test("a closed TLS socket (getPeerCertificate() is null): no CN, no throw", () => {
  expect(peerCertificateCn(requestOn(tlsSocket(true, null)))).toBeUndefined();
});

test("no certificate sent ({}), several CNs, an empty CN, an unverified certificate, plain HTTP: no CN", () => {
  expect(peerCertificateCn(requestOn(tlsSocket(true, {})))).toBeUndefined();
  expect(peerCertificateCn(requestOn(tlsSocket(true, { subject: { CN: ["sam", "susan"] } })))).toBeUndefined();
  expect(peerCertificateCn(requestOn(tlsSocket(true, { subject: { CN: "" } })))).toBeUndefined();
  expect(peerCertificateCn(requestOn(tlsSocket(false, { subject: { CN: "sam" } })))).toBeUndefined();
  expect(peerCertificateCn(requestOn({}))).toBeUndefined();
});
