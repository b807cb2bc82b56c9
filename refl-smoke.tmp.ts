import { startTestHub } from "./test/support/hub.js";
const hub = await startTestHub("pglite", { "grpc.agentPort": 0 });
console.log("PORTS", hub.app.port, hub.app.agentPort);
await new Promise((r) => setTimeout(r, 60000));
await hub.stop();
