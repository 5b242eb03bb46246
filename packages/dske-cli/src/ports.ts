/** Is a loopback TCP port free to bind (what a restarting node needs)? */
import net from "node:net";
import { HOST } from "./topology";

export function isPortFree(port: number, host: string = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}
