import { runLibrariesDemo } from "./demo.js";

const r = await runLibrariesDemo();
// The demo prints only whether values match, never the secret itself.
console.log(`allocation sent with the ciphertext: ${r.allocationHeader}`);
console.log(`recovered from shares 1, 3, 5: ${r.recoveredHex === r.secretHex ? "match" : "MISMATCH"}`);
console.log(`robust recovery dropped share(s) x=${r.droppedX.join(",")}: ${r.robustRecoveredHex === r.secretHex ? "match" : "MISMATCH"}`);
console.log(`PSRD used: Alice ${r.alice.used} B, Bob ${r.bob.used} B; replay refused: ${r.replayRefused}`);
