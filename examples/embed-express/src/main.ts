import { startEmbeddedNetwork } from "./network.js";

const net = await startEmbeddedNetwork(Number(process.env.PORT ?? 0));
console.log(`app listening on ${net.baseUrl} (hubs under /hub/NAME, clients under /client/NAME)`);
const { keys } = await net.sam.getKeys("sunny", { number: 1, size: 256 });
const master = keys[0];
const slave = (await net.sunny.getKeysWithKeyIds("sam", [master.key_ID])).keys[0];
// Print whether the keys match, never the key values.
console.log(`key ${master.key_ID}: ${master.key === slave.key ? "Key values match" : "MISMATCH"}`);
await net.close();
