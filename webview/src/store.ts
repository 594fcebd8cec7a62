/**
 * The page's one model and the only place it changes: host pushes and the user's view edits go through the pure
 * reducers of ./state.ts. Every change of the view state is saved with vscode.setState at once (it survives hiding
 * and reloads) and sent to the host a little later (for the serializer and the next snapshot).
 */
import type { HostToWebview, ViewState } from "resnet-studio/protocol";
import type { WebviewApi } from "vscode-webview";
import { emptyModel, reduce, reduceView, type ViewAction, type WebviewModel } from "./state";
import { timed } from "./timing";

/** Quiet time before a changed view state goes to the host: one message per gesture, not per pointer move. */
const PUBLISH_DELAY_MS = 300;

export class Store {
  private current: WebviewModel;
  private publishTimer: number | undefined;

  /** `publish` sends the view state to the host. */
  constructor(
    private readonly api: WebviewApi<ViewState>,
    private readonly publish: (view: ViewState) => void,
  ) {
    this.current = emptyModel(api.getState() ?? null);
  }

  get model(): WebviewModel {
    return this.current;
  }

  /** Folds in a host push; returns the model before it, for the views to see what changed. */
  receive(message: HostToWebview): WebviewModel {
    const before = this.current;
    this.current = timed("reduce", () => reduce(before, message));
    this.persist();
    return before;
  }

  updateView(action: ViewAction): void {
    this.current = { ...this.current, view: reduceView(this.current.view, action) };
    this.persist();
  }

  /** The diagram was fitted (or opened readable): the next render need not fit it again. */
  fitted(): void {
    this.current = { ...this.current, needsFit: false };
  }

  private persist(): void {
    const view = this.current.view;
    this.api.setState(view);
    if (this.publishTimer !== undefined) clearTimeout(this.publishTimer);
    this.publishTimer = window.setTimeout(() => this.publish(view), PUBLISH_DELAY_MS);
  }
}
