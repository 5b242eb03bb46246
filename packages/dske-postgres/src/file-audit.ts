/**
 * Optional per-replica audit file (`auditLog` option): JSON lines in the format of @dske/psrd's
 * FileStore audit log (readAuditLog reads it), written after the consumption committed. The
 * database's `audit` table is the shared record of every replica; this file is for people and
 * tools that read the FileStore's.
 */
import { appendFile } from "node:fs/promises";
import type { AuditRecord, Fragment, PoolOwner } from "@dske/psrd";

export class FileAudit {
  constructor(readonly path: string) {}

  async append(pool: string, owner: PoolOwner, op: "allocate" | "take", fragments: readonly Fragment[], purpose: string): Promise<void> {
    const time = new Date().toISOString();
    const lines = fragments.map((f) => {
      const rec: AuditRecord = { time, pool, owner, op, block_uuid: f.blockUuid, start: f.start, size: f.size, purpose };
      return JSON.stringify(rec) + "\n";
    });
    await appendFile(this.path, lines.join(""));
  }
}
