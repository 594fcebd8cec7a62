/**
 * The evaluation page (dist/evaluationPage.js): draws the entries the host sends (Evaluate, Show in Diagram). Every
 * message is checked before it is drawn (presentation/evaluationReport.ts); the markup comes from the same pure
 * function the tests check, built from checked numbers and escaped strings only.
 */
import {
  checkEvaluationHostMessage,
  evaluationBodyHtml,
  EVALUATION_STYLE,
  type EvaluationViewMessage,
} from "resnet-studio/presentation/evaluationReport";

const api = acquireVsCodeApi();
const style = document.createElement("style");
style.textContent = EVALUATION_STYLE;
document.head.append(style);
const app = document.getElementById("app");

window.addEventListener("message", (event: MessageEvent<unknown>) => {
  const message = checkEvaluationHostMessage(event.data);
  if (!message || !app) return;
  app.innerHTML = evaluationBodyHtml(message.entries);
});

const ready: EvaluationViewMessage = { type: "ready" };
api.postMessage(ready);
