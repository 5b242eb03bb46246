import type { Pool } from "@dske/psrd";
import type { AuthSchemeName } from "./scheme";

/** Per-peer pools for message authentication. */
export interface PeerAuth {
  scheme: AuthSchemeName;
  /** The pool this node owns for that peer: sign what we send (and encrypt what we send). */
  localPool: Pool;
  /** The pool the peer owns: verify what we receive (and decrypt what we receive). */
  peerPool: Pool;
}
