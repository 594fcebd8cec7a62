/**
 * The torch backend's Python child as a long-lived peer (issue 18): one `resnet_studio_torch.py --serve` process per
 * interpreter, speaking the project's RPC (../rpc.ts) as JSON lines over stdio (torchProtocol.ts). It starts on the
 * first job, keeps built models between gradient-flow requests, restarts after a crash, and stops when idle, when
 * its parent exits, or when it misbehaves.
 *
 * A child is untrusted in the ways issue 21 lists (a Python that never answers, prints garbage or a 700 MB line, or
 * leaves a background process holding stdout): every wait has a timeout, every line a length cap, and every stop
 * kills the child's whole process group (it runs detached, in a group of its own) and removes its temp folders.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { isMainThread } from "node:worker_threads";
import { join } from "node:path";
import { formatBytes } from "../presentation/format";
import { RpcClient, RpcError } from "../rpc";
import {
  parseWorkerLine,
  TORCH_PROTOCOL_VERSION,
  type RunnerMessage,
  type TorchHello,
  type TorchJob,
  type TorchJobResults,
  type WorkerCommand,
} from "./torchProtocol";

export interface PythonChoice {
  command: string;
  /** Where the choice came from, quoted in messages. */
  origin: string;
}

/** Python or PyTorch is missing or unusable: the message says what to install or set. Never shown with a stack. */
export class TorchUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TorchUnavailableError";
  }
}

/** The worker reported an error, broke the protocol, hung, or died. */
export class TorchRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TorchRunError";
  }
}

export const INSTALL_HINT =
  "The torch backend needs Python 3 with PyTorch (torch ≥ 1.13): install it (`pip install torch`, or on Debian/Ubuntu `apt install python3-torch`), " +
  "then point ResNet Studio at that Python with the setting resnetStudio.python, --python, or RESNET_STUDIO_PYTHON; or use --backend wasm";

/** The oldest torch the runner supports (torch.frombuffer, set_to_none, the exported module's APIs). */
export const MIN_TORCH: readonly [number, number] = [1, 13];

export interface TorchWorkerLimits {
  /** From spawn to the "hello" line (importing torch: about 2 s warm, 10 s+ cold on a loaded machine). */
  startMs: number;
  /** During a job, the longest silence before the worker counts as hung (the runner sends a step line every 10 s). */
  idleMs: number;
  /** After a cancel, how long the job may take to stop between steps before the worker is killed. */
  cancelGraceMs: number;
  /** With no job, how long the worker stays up for the next one. */
  stopWhenIdleMs: number;
  /** The longest line accepted from the worker. */
  maxLineBytes: number;
}

function envMs(name: string, fallback: number): number {
  const raw = process.env[name];
  const seconds = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : fallback;
}

/** The defaults; RESNET_STUDIO_TORCH_START_TIMEOUT_S and RESNET_STUDIO_TORCH_IDLE_TIMEOUT_S override the first two. */
export function defaultLimits(): TorchWorkerLimits {
  return {
    startMs: envMs("RESNET_STUDIO_TORCH_START_TIMEOUT_S", 90_000),
    idleMs: envMs("RESNET_STUDIO_TORCH_IDLE_TIMEOUT_S", 300_000),
    cancelGraceMs: 10_000,
    stopWhenIdleMs: 5 * 60_000,
    // A ResNet-1202 gradient report is about 1 MB; 64 MB leaves room and stays far from V8's string limit.
    maxLineBytes: 64 * 1024 * 1024,
  };
}

/** Splits a byte stream into lines, refusing any line longer than `maxBytes` (without ever holding more). */
export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onTooLong: (bytes: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(10, start);
      if (end < 0) break;
      const piece = chunk.subarray(start, end);
      if (this.held + piece.length > this.maxBytes) return this.tooLong(this.held + piece.length);
      const line = this.held === 0 ? piece.toString("utf8") : Buffer.concat([...this.parts, piece]).toString("utf8");
      this.parts = [];
      this.held = 0;
      this.onLine(line);
      start = end + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length === 0) return;
    if (this.held + rest.length > this.maxBytes) return this.tooLong(this.held + rest.length);
    this.parts.push(Buffer.from(rest));
    this.held += rest.length;
  }

  private tooLong(bytes: number): void {
    this.parts = [];
    this.held = 0;
    this.onTooLong(bytes);
  }
}

export interface JobOptions<K extends TorchJob["kind"]> {
  onPush?: (message: RunnerMessage) => void;
  signal?: AbortSignal;
  kind?: K;
}

type Pushes = Map<number, (message: RunnerMessage) => void>;

/** Every live worker of this process, killed (with their temp folders removed) when it exits. */
const live = new Set<TorchWorker>();
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on("exit", () => {
    for (const worker of live) worker.killNow();
  });
  // A SIGTERM or SIGHUP would end the process without "exit": kill the groups first, then die of the same signal.
  if (isMainThread)
    for (const signal of ["SIGTERM", "SIGHUP"] as const)
      process.once(signal, () => {
        for (const worker of live) worker.killNow();
        process.kill(process.pid, signal);
      });
}

/** True when `version` ("1.13.0a0+git…", "2.1.2+cu121") is at least `min`. */
export function torchVersionAtLeast(version: string, min: readonly [number, number] = MIN_TORCH): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > min[0] || (major === min[0] && minor >= min[1]);
}

export class TorchWorker {
  private child: ChildProcess | null = null;
  private starting: Promise<TorchHello> | null = null;
  private hello: TorchHello | null = null;
  private client: RpcClient<TorchJob, TorchJobResults> | null = null;
  private readonly pushes: Pushes = new Map();
  private stderrTail = "";
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private silenceTimer: ReturnType<typeof setTimeout> | null = null;
  private stopTimer: ReturnType<typeof setTimeout> | null = null;
  private tempRoot: string | null = null;
  private failure: string | null = null;
  /** How many times a process was started (tests: a crash or a hang is followed by a fresh one). */
  starts = 0;

  constructor(
    readonly python: PythonChoice,
    private readonly script: string,
    readonly limits: TorchWorkerLimits = defaultLimits(),
  ) {}

  /** Which Python and torch answered (after the first job or `start`), or null. */
  get info(): TorchHello | null {
    return this.hello;
  }

  /** The process id of the running worker, or null. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** A fresh folder for one job's files under this worker's temp root; removed by the caller, or at exit. */
  jobFolder(): string {
    if (!this.tempRoot) this.tempRoot = mkdtempSync(join(tmpdir(), "resnet-studio-torch-"));
    return mkdtempSync(join(this.tempRoot, "job-"));
  }

  /** Starts the worker if it is not running and waits for its hello (torch imported). */
  start(): Promise<TorchHello> {
    if (this.hello && this.child) return Promise.resolve(this.hello);
    if (this.starting) return this.starting;
    this.starting = this.spawnChild().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  /** Runs one job; resolves with its final message. A cancel through `signal` stops it between steps. */
  async run<K extends TorchJob["kind"]>(
    job: Extract<TorchJob, { kind: K }>,
    options: JobOptions<K> = {},
  ): Promise<TorchJobResults[K]> {
    if (options.signal?.aborted) throw new TorchRunError("cancelled before it started");
    await this.start();
    const client = this.client;
    if (!client) throw new TorchRunError(this.failure ?? "the torch worker is not running");
    this.clearIdleStop();
    this.refStreams(true);
    let id = -1;
    let cancelTimer: ReturnType<typeof setTimeout> | null = null;
    const onAbort = () => {
      if (id >= 0) this.send({ type: "cancel", id });
      // A job that ignores the cancel gets its grace, then the whole worker goes (and restarts on the next job).
      cancelTimer = setTimeout(
        () =>
          this.kill(
            `the torch worker did not stop within ${Math.round(this.limits.cancelGraceMs / 1000)} s of the cancel; it was killed`,
          ),
        this.limits.cancelGraceMs,
      );
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const pending = client.request(job);
      // RpcClient numbers requests from 1 in order: the id of the request just sent is its count so far.
      id = this.lastId;
      if (options.onPush) this.pushes.set(id, options.onPush);
      if (options.signal?.aborted) onAbort();
      this.armSilence();
      return await pending;
    } catch (err) {
      if (err instanceof RpcError) throw new TorchRunError(`torch backend: ${err.message}`);
      throw err;
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      if (cancelTimer) clearTimeout(cancelTimer);
      this.pushes.delete(id);
      if (client.inFlight === 0) {
        this.disarmSilence();
        this.refStreams(false);
        this.armIdleStop();
        // Job folders are removed by their jobs; an idle worker keeps no temp root either (a worker thread that is
        // terminated never runs the exit hook).
        if (this.tempRoot) rmSync(this.tempRoot, { recursive: true, force: true });
        this.tempRoot = null;
      }
    }
  }

  /** Stops the worker (its job, if any, fails with `reason`); the next job starts a fresh one. */
  stop(reason = "the torch worker was stopped"): void {
    this.kill(reason);
  }

  /** Synchronous kill of the process group and removal of the temp folders (process exit). */
  killNow(): void {
    const child = this.child;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    if (this.tempRoot) rmSync(this.tempRoot, { recursive: true, force: true });
    this.tempRoot = null;
  }

  private sentRequests = 0;
  private get lastId(): number {
    return this.sentRequests;
  }

  private send(command: WorkerCommand): void {
    const stdin = this.child?.stdin;
    if (!stdin || stdin.destroyed) throw new Error("the torch worker's stdin is closed");
    stdin.write(JSON.stringify(command) + "\n");
  }

  private spawnChild(): Promise<TorchHello> {
    hookExit();
    this.failure = null;
    this.stderrTail = "";
    this.starts++;
    const who = this.who;
    let child: ChildProcess;
    try {
      child = spawn(this.python.command, ["-u", this.script, "--serve"], {
        stdio: ["pipe", "pipe", "pipe"],
        // Its own process group: a stop kills whatever it started too, and a terminal's Ctrl-C reaches only us.
        detached: true,
        env: { ...process.env, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
      });
    } catch (err) {
      return Promise.reject(
        new TorchUnavailableError(`${who} could not be started (${messageOf(err)}). ${INSTALL_HINT}`),
      );
    }
    this.child = child;
    live.add(this);
    this.sentRequests = 0;
    const client = new RpcClient<TorchJob, TorchJobResults>((message) => {
      this.sentRequests = message.id;
      this.send(message);
    });
    this.client = client;
    return new Promise<TorchHello>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(startTimer);
        reject(err);
      };
      const startTimer = setTimeout(() => {
        fail(
          new TorchUnavailableError(
            `${who} did not start the torch worker within ${Math.round(this.limits.startMs / 1000)} s (no "hello" line; ` +
              `importing torch hung?)${this.stderrNote()}. ${INSTALL_HINT}`,
          ),
        );
        this.kill("the torch worker did not start in time");
      }, this.limits.startMs);
      const lines = new LineSplitter(
        this.limits.maxLineBytes,
        (line) => {
          if (line.trim() === "") return;
          this.armSilence();
          let message;
          try {
            message = parseWorkerLine(line);
          } catch (err) {
            const text = `the torch worker broke the protocol: ${messageOf(err)}`;
            fail(new TorchRunError(`${who}: ${text}`));
            this.kill(text);
            return;
          }
          if (message.type === "hello") {
            if (settled) return;
            const problem = helloProblem(message);
            if (problem) {
              fail(new TorchUnavailableError(`${who}: ${problem}. ${INSTALL_HINT}`));
              this.kill(problem);
              return;
            }
            settled = true;
            clearTimeout(startTimer);
            this.hello = message;
            // Idle until a job arrives (run() refs it again): a worker only probed, or refused for its device, must
            // neither keep its parent alive nor outlive the idle stop.
            this.refStreams(false);
            this.armIdleStop();
            resolve(message);
          } else if (!settled) {
            const text = `the torch worker sent "${message.type}" before its hello`;
            fail(new TorchRunError(`${who}: ${text}`));
            this.kill(text);
          } else if (message.type === "push") {
            this.pushes.get(message.id)?.(message.message);
          } else if (!client.accept(message)) {
            this.kill(`the torch worker answered request ${message.id}, which is not in flight`);
          }
        },
        (bytes) => {
          const text = `the torch worker printed a line of more than ${formatBytes(bytes)} (the limit is ${formatBytes(this.limits.maxLineBytes)})`;
          fail(new TorchRunError(`${who}: ${text}`));
          this.kill(text);
        },
      );
      child.stdout!.on("data", (chunk: Buffer) => lines.push(chunk));
      child.stderr!.setEncoding("utf8");
      child.stderr!.on("data", (chunk: string) => {
        this.stderrTail = (this.stderrTail + chunk).slice(-4000);
      });
      child.stdin!.on("error", () => undefined); // a dead child's pipe; its exit reports why
      child.on("error", (err: NodeJS.ErrnoException) => {
        const text =
          err.code === "ENOENT"
            ? `Python not found: ${who} does not exist`
            : `${who} could not be started (${err.code ?? err.message})`;
        fail(new TorchUnavailableError(`${text}. ${INSTALL_HINT}`));
        this.onGone(child, text);
      });
      child.on("exit", (code, signal) => {
        const how = signal ? `killed by ${signal}` : `exit code ${code}`;
        const finish = () => {
          clearTimeout(drain);
          if (this.child !== child) return;
          const importFailed = /No module named ['"]?torch/.test(this.stderrTail);
          const text = importFailed
            ? `${who} has no PyTorch (import torch failed)`
            : (this.failure ?? `${who}: the torch worker stopped (${how})${this.stderrNote()}`);
          fail(settled ? new TorchRunError(text) : new TorchUnavailableError(`${text}. ${INSTALL_HINT}`));
          // Whatever it started may hold stdout open: the group goes too, then the streams are let go.
          this.onGone(child, text);
        };
        // Its last lines may still be in the pipes: read them until they close, or a moment when something it
        // started keeps them open.
        const drain = setTimeout(finish, 300);
        child.once("close", finish);
      });
    });
  }

  private stderrNote(): string {
    const last = this.stderrTail.trim().split("\n").slice(-3).join(" | ").slice(0, 600);
    return last ? `: ${last}` : "";
  }

  /** `/usr/bin/python3` (RESNET_STUDIO_PYTHON): how messages name the interpreter. */
  get who(): string {
    return `\`${this.python.command}\` (${this.python.origin})`;
  }

  /** Kills the group (if running) and fails what is in flight with `reason`, naming the Python. */
  private kill(reason: string): void {
    this.failure ??= reason.startsWith(this.who) ? reason : `${this.who}: ${reason}`;
    const child = this.child;
    if (child) this.onGone(child, reason);
  }

  private onGone(child: ChildProcess, reason: string): void {
    if (this.child !== child) return;
    this.child = null;
    this.hello = null;
    live.delete(this);
    this.clearIdleStop();
    this.disarmSilence();
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        /* the group is gone */
      }
    }
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.stdin?.destroy();
    this.client?.failAll(this.failure ?? reason);
    this.client = null;
    this.pushes.clear();
    if (this.tempRoot) rmSync(this.tempRoot, { recursive: true, force: true });
    this.tempRoot = null;
  }

  /** While a job runs, silence longer than idleMs means a hung worker. */
  private armSilence(): void {
    if ((this.client?.inFlight ?? 0) === 0) return;
    this.disarmSilence();
    this.silenceTimer = setTimeout(
      () =>
        this.kill(
          `the torch worker sent nothing for ${Math.round(this.limits.idleMs / 1000)} s during a job (hung?); it was killed and will restart on the next job`,
        ),
      this.limits.idleMs,
    );
  }

  private disarmSilence(): void {
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    this.silenceTimer = null;
  }

  private armIdleStop(): void {
    this.clearIdleStop();
    this.stopTimer = setTimeout(() => this.kill("stopped after being idle"), this.limits.stopWhenIdleMs);
    this.stopTimer.unref();
  }

  private clearIdleStop(): void {
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.stopTimer = null;
  }

  /** An idle worker must not keep its parent alive (the CLI exits when its work is done; the exit hook kills it). */
  private refStreams(ref: boolean): void {
    const child = this.child;
    if (!child) return;
    for (const s of [child.stdout, child.stderr, child.stdin] as ({ ref?: () => void; unref?: () => void } | null)[])
      if (ref) s?.ref?.();
      else s?.unref?.();
    if (ref) child.ref();
    else child.unref();
  }
}

function helloProblem(hello: TorchHello): string | null {
  if (hello.protocol !== TORCH_PROTOCOL_VERSION)
    return `the torch runner speaks protocol ${hello.protocol}, this ResNet Studio ${TORCH_PROTOCOL_VERSION}; rebuild`;
  if (!torchVersionAtLeast(hello.torch))
    return `torch ${hello.torch} is too old: the torch backend needs torch ≥ ${MIN_TORCH.join(".")}`;
  return null;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const workers = new Map<string, TorchWorker>();

/** The shared worker of `python` (one per interpreter command), created on first use. */
export function torchWorkerFor(python: PythonChoice, script: string, limits?: TorchWorkerLimits): TorchWorker {
  let worker = workers.get(python.command);
  if (!worker) {
    worker = new TorchWorker(python, script, limits);
    workers.set(python.command, worker);
  }
  return worker;
}

/** Stops every shared worker (extension deactivate, tests). */
export function stopTorchWorkers(reason = "stopped"): void {
  for (const worker of workers.values()) worker.stop(reason);
  workers.clear();
}
