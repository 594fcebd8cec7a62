/** worker_threads entry for diagram layout (dist/layoutWorker.js): engineer E's worker, bundled for the .vsix. */
import "../../model-core/src/render/layoutWorker";
