/** worker_threads entry for diagram layout (dist/layoutWorker.js): model-core's layout worker, bundled for the .vsix. */
import "resnet-studio/render/layoutWorker";
