import { closeSync, existsSync, fstatSync, linkSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { StateJournal as Journal, StateJournalError as JournalError } from "../src/state-journal";

describe("StateJournal", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "dske-journal-"));
    file = path.join(dir, "state.jsonl");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("appends durably, in order, group-committing concurrent appends", async () => {
    const { journal, records } = await Journal.open(file);
    expect(records).toEqual([]);
    await Promise.all(Array.from({ length: 50 }, (_, i) => journal.append([{ i }])));
    await journal.append([{ i: 50 }, { i: 51 }]);
    await journal.close();
    const reopened = await Journal.open(file);
    expect(reopened.records).toEqual(Array.from({ length: 52 }, (_, i) => ({ i })));
    await expect(journal.append([{ late: true }])).rejects.toBeInstanceOf(JournalError);
    await reopened.journal.close();
  });

  test("drops and truncates a torn last line; refuses corruption in the middle", async () => {
    writeFileSync(file, '{"a":1}\n{"a":2}\n{"a":');
    const { journal, records } = await Journal.open(file);
    expect(records).toEqual([{ a: 1 }, { a: 2 }]);
    expect(readFileSync(file, "utf8")).toBe('{"a":1}\n{"a":2}\n');
    await journal.append([{ a: 3 }]);
    await journal.close();
    expect(await Journal.open(file).then(async (r) => (await r.journal.close(), r.records))).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);

    writeFileSync(file, '{"a":1}\nxx\n{"a":2}\n');
    await expect(Journal.open(file)).rejects.toThrow(/line 2 is not valid JSON/);
  });

  test("rewrite replaces the content and leaves no old copy behind", async () => {
    const { journal } = await Journal.open(file);
    await journal.append([{ secret: "c2VjcmV0LXNoYXJl" }, { keep: 1 }]);
    const appended = journal.append([{ before: "rewrite" }]);
    await journal.rewrite([{ keep: 1 }]);
    await appended;
    await journal.append([{ after: 2 }]);
    expect(journal.size).toBe(Buffer.byteLength('{"keep":1}\n{"after":2}\n'));
    await journal.close();
    expect(readFileSync(file, "utf8")).toBe('{"keep":1}\n{"after":2}\n');
    expect(existsSync(`${file}.old`)).toBe(false);
    expect(existsSync(`${file}.tmp`)).toBe(false);
  });

  test("rewrite zeroes the old file in place (not only unlinks it); appends meanwhile land in the new file", async () => {
    const { journal } = await Journal.open(file);
    const secret = "c2VjcmV0LXNoYXJlLXZhbHVl";
    await journal.append([{ secret }, { keep: 1 }]);
    const old = openSync(file, "r"); // keeps the old inode readable after it is unlinked
    try {
      const size = fstatSync(old).size;
      const rewritten = journal.rewrite([{ keep: 1 }]);
      const appended = journal.append([{ after: 1 }]);
      await Promise.all([rewritten, appended]);
      const bytes = Buffer.alloc(size);
      expect(readSync(old, bytes, 0, size, 0)).toBe(size);
      expect(bytes.equals(Buffer.alloc(size))).toBe(true);
      expect(fstatSync(old).nlink).toBe(0);
    } finally {
      closeSync(old);
    }
    expect(readFileSync(file, "utf8")).toBe('{"keep":1}\n{"after":1}\n');
    // A second rewrite right away works too (the first one's old file is gone first).
    await Promise.all([journal.rewrite([{ keep: 2 }]), journal.rewrite([{ keep: 3 }])]);
    await journal.close();
    expect(readFileSync(file, "utf8")).toBe('{"keep":3}\n');
    expect(existsSync(`${file}.old`)).toBe(false);
  });

  test("recovers from an interrupted compaction", async () => {
    // Crash after writing .tmp: the journal is intact, .tmp is discarded.
    writeFileSync(file, '{"live":1}\n');
    writeFileSync(`${file}.tmp`, '{"snapshot":1}\n');
    let r = await Journal.open(file);
    expect(r.records).toEqual([{ live: 1 }]);
    expect(existsSync(`${file}.tmp`)).toBe(false);
    await r.journal.close();

    // Crash after linking .old (same file as the journal): only the link goes.
    linkSync(file, `${file}.old`);
    r = await Journal.open(file);
    expect(r.records).toEqual([{ live: 1 }]);
    expect(existsSync(`${file}.old`)).toBe(false);
    await r.journal.close();

    // Crash after the rename: .old is a different, dead file; it is removed.
    writeFileSync(`${file}.old`, '{"dead":"c2VjcmV0"}\n');
    r = await Journal.open(file);
    expect(r.records).toEqual([{ live: 1 }]);
    expect(existsSync(`${file}.old`)).toBe(false);
    await r.journal.close();
  });
});
