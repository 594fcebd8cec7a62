/**
 * The page's one line to the extension host: posts messages, sends typed requests (resnet-studio/rpc) and hands
 * everything else the host sends (pushes and commands) to one listener. Responses never reach the listener.
 */
import {
  isHostToWebview,
  type HostToWebview,
  type RequestBody,
  type ResponseBodies,
  type ViewState,
  type WebviewToHost,
} from "resnet-studio/protocol";
import { RpcClient, RpcError } from "resnet-studio/rpc";
import type { WebviewApi } from "vscode-webview";

/** What the host sends besides responses: state pushes and commands. */
export type HostMessage = Exclude<HostToWebview, { type: "response" }>;

export class HostChannel {
  private readonly rpc: RpcClient<RequestBody, ResponseBodies>;

  /** `onFailure` reports a request the host answered with an error (the promise still rejects). */
  constructor(
    private readonly api: WebviewApi<ViewState>,
    private readonly onFailure: (error: RpcError) => void,
  ) {
    this.rpc = new RpcClient<RequestBody, ResponseBodies>((message) => this.post(message));
  }

  post(message: WebviewToHost): void {
    this.api.postMessage(message);
  }

  /** A request to the host, typed by kind: resolves with `ResponseBodies[kind]`. */
  request<K extends RequestBody["kind"]>(body: Extract<RequestBody, { kind: K }>): Promise<ResponseBodies[K]> {
    return this.rpc.request(body).catch((err: unknown) => {
      if (err instanceof RpcError) this.onFailure(err);
      throw err;
    });
  }

  /** Starts listening: responses settle their requests; every other well-formed message goes to `onMessage`. */
  listen(onMessage: (message: HostMessage) => void): void {
    window.addEventListener("message", (event: MessageEvent<unknown>) => {
      const message = event.data;
      if (!isHostToWebview(message)) return;
      if (message.type === "response") this.rpc.accept(message);
      else onMessage(message);
    });
  }
}
