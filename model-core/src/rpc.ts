/**
 * The one request/response layer under every boundary: host ↔ webview, host ↔ layout, spec and training workers,
 * trainer ↔ replicas. Runtime-neutral (no node, no DOM): each side supplies a `post` function and feeds what it
 * receives to `accept` (client) or `handle` (server).
 *
 * A protocol is two types: a union of request bodies tagged by `kind`, and a map from each kind to its result.
 * A request gets exactly one response, which carries its result or an error; state the other side should know
 * (layouts, gradients, training events) travels as the protocol's own push messages, never inside a response.
 */

/** A request body: any object tagged with the method it calls. */
export interface Tagged {
  kind: string;
}

/** The result type of every request kind of `B`. */
export type ResultMap<B extends Tagged> = { [K in B["kind"]]: unknown };

/** A request on the wire: `id` pairs it with its response. */
export interface RequestMessage<B extends Tagged> {
  type: "request";
  id: number;
  body: B;
}

/** The answer to one request: its result, or why there is none. `kind` is "invalid" when the request named none. */
export type ResponseMessage<B extends Tagged, R extends ResultMap<B>> =
  | { [K in B["kind"]]: { type: "response"; id: number; ok: true; kind: K; body: R[K] } }[B["kind"]]
  | { type: "response"; id: number; ok: false; kind: B["kind"] | "invalid"; error: string };

/** Whether `value` has the shape of a response (the client then matches it by id). */
export function isResponseMessage(value: unknown): value is ResponseMessage<Tagged, Record<string, unknown>> {
  if (typeof value !== "object" || value === null) return false;
  const m = value as { type?: unknown; id?: unknown; ok?: unknown };
  return m.type === "response" && typeof m.id === "number" && typeof m.ok === "boolean";
}

/** A request that failed on the other side, timed out, or lost its channel; `kind` is the request's. */
export class RpcError extends Error {
  constructor(
    message: string,
    readonly kind: string,
    readonly reason: "failed" | "timeout" | "closed",
  ) {
    super(message);
    this.name = "RpcError";
  }
}

export interface RequestOptions {
  /** Reject with an RpcError (reason "timeout") after this many milliseconds; none by default. */
  timeoutMs?: number;
}

interface Pending {
  kind: string;
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

/** The requesting side: numbers requests, pairs responses with them, times them out and fails them together. */
export class RpcClient<B extends Tagged, R extends ResultMap<B>> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /**
   * `post` sends one request (it may throw: the request then fails at once). `onTimeout` runs after a request timed
   * out, e.g. to replace a worker that may be stuck.
   */
  constructor(
    private readonly post: (message: RequestMessage<B>) => void,
    private readonly onTimeout?: (kind: B["kind"]) => void,
  ) {}

  /** Sends `body` and resolves with its kind's result. */
  request<K extends B["kind"]>(body: Extract<B, { kind: K }>, options: RequestOptions = {}): Promise<R[K]> {
    const id = this.nextId++;
    const kind: K = body.kind;
    return new Promise<R[K]>((resolve, reject) => {
      const timeoutMs = options.timeoutMs;
      const timer =
        timeoutMs === undefined
          ? null
          : setTimeout(() => {
              if (!this.pending.delete(id)) return;
              reject(new RpcError(`${kind} timed out after ${timeoutMs} ms`, kind, "timeout"));
              this.onTimeout?.(kind);
            }, timeoutMs);
      this.pending.set(id, { kind, resolve: resolve as (result: unknown) => void, reject, timer });
      try {
        this.post({ type: "request", id, body });
      } catch (err) {
        this.settle(id);
        reject(new RpcError(`could not send ${kind}: ${messageOf(err)}`, kind, "closed"));
      }
    });
  }

  /** Takes an incoming message; true when it answered a request of this client's (other messages are pushes). */
  accept(message: unknown): boolean {
    if (!isResponseMessage(message)) return false;
    const p = this.settle(message.id);
    if (!p) return false;
    if (message.ok) p.resolve(message.body);
    else p.reject(new RpcError(message.error, p.kind, "failed"));
    return true;
  }

  /** Rejects every request in flight (the channel closed, the worker crashed or was replaced). */
  failAll(message: string): void {
    for (const id of [...this.pending.keys()]) {
      const p = this.settle(id);
      p?.reject(new RpcError(message, p.kind, "closed"));
    }
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    if (p.timer !== null) clearTimeout(p.timer);
    return p;
  }
}

/** One handler per request kind; a handler's throw becomes an `ok: false` response. */
export type Handlers<B extends Tagged, R extends ResultMap<B>> = {
  [K in B["kind"]]: (body: Extract<B, { kind: K }>) => R[K] | Promise<R[K]>;
};

/** The answering side: runs the handler of each request's kind and posts exactly one response. */
export class MessageHandler<B extends Tagged, R extends ResultMap<B>> {
  constructor(
    private readonly handlers: Handlers<B, R>,
    private readonly post: (message: ResponseMessage<B, R>) => void,
  ) {}

  /** Answers `request`; resolves once the response is posted. Never rejects. */
  async handle(request: RequestMessage<B>): Promise<void> {
    const kind: B["kind"] = request.body.kind;
    let response: ResponseMessage<B, R>;
    try {
      const handler = this.handlers[kind] as (body: B) => unknown;
      const body = await handler(request.body);
      response = { type: "response", id: request.id, ok: true, kind, body } as ResponseMessage<B, R>;
    } catch (err) {
      response = { type: "response", id: request.id, ok: false, kind, error: messageOf(err) };
    }
    this.post(response);
  }

  /** Answers a request that could not be read (bad fields, unknown kind) with an error. */
  reject(id: number, kind: B["kind"] | "invalid", error: string): void {
    this.post({ type: "response", id, ok: false, kind, error });
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
