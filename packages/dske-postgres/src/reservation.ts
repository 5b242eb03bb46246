/**
 * A reservation of a peer pool: rows in `reservations` (one per fragment, sharing a token) that
 * keep every other replica from reserving or taking the bytes. commit() turns them into consumed
 * ranges in one transaction; release() deletes them. A replica that dies leaves its rows behind:
 * they expire after `reservationTtlMs` (default 60 s) and are deleted by the next reserve/take
 * of an overlapping block, under the block locks, so the bytes become reservable again. A commit
 * whose rows were removed that way fails (PsrdReservationStateError) and consumes nothing.
 */
import { PsrdReservationStateError, type Allocation, type Reservation } from "@dske/psrd";

/** What a reservation needs from its pool (pg-pool.ts). */
export interface ReservationOwner {
  commitReservation(token: string, fragments: Allocation["fragments"], purpose: string): Promise<boolean>;
  releaseReservation(token: string): void;
}

export class PgReservation implements Reservation {
  readonly data: Uint8Array;
  readonly allocation: Allocation;
  private state: "pending" | "committing" | "committed" | "released" = "pending";

  constructor(
    private readonly pool: ReservationOwner,
    allocation: Allocation,
    data: Uint8Array,
    private readonly token: string,
    private readonly purpose: string,
  ) {
    this.allocation = allocation;
    this.data = data;
  }

  async commit(): Promise<void> {
    if (this.state !== "pending") throw new PsrdReservationStateError(`reservation is ${this.state}`);
    this.state = "committing";
    let ok: boolean;
    try {
      ok = await this.pool.commitReservation(this.token, this.allocation.fragments, this.purpose);
    } catch (e) {
      // Unknown outcome (e.g. the database went away): the rows expire if the commit did not land.
      this.state = "pending";
      throw e;
    }
    if (!ok) {
      this.state = "released";
      this.data.fill(0);
      throw new PsrdReservationStateError("reservation expired before commit (reservationTtlMs); nothing was consumed");
    }
    this.state = "committed";
  }

  release(): void {
    if (this.state !== "pending") return;
    this.state = "released";
    this.data.fill(0);
    this.pool.releaseReservation(this.token);
  }
}
