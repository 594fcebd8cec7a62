/**
 * The "Plain vs Residual" page (dist/experimentPage.js): draws the experiment's chart, verdict and table from the state
 * the host pushes after every epoch. Every message is checked before it is drawn (experiment/viewProtocol.ts); the
 * markup comes from the same pure function as the CLI's chart.html, so the editor and the file show the same figure.
 */
import { experimentBodyHtml, EXPERIMENT_STYLE } from "resnet-studio/experiment/report";
import { checkExperimentHostMessage, type ExperimentViewMessage } from "resnet-studio/experiment/viewProtocol";

const api = acquireVsCodeApi();
const style = document.createElement("style");
style.textContent = EXPERIMENT_STYLE;
document.head.append(style);
const app = document.getElementById("app");

window.addEventListener("message", (event: MessageEvent<unknown>) => {
  const message = checkExperimentHostMessage(event.data);
  if (!message || !app) return;
  // The markup is built from checked numbers and escaped strings only.
  app.innerHTML = experimentBodyHtml(message.state);
});

const ready: ExperimentViewMessage = { type: "ready" };
api.postMessage(ready);
