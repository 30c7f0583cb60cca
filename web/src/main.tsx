import "./styles.css";

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { completeSignIn } from "./auth";
import { App } from "./components/App";
import { loadConfig } from "./config";

async function start(root: HTMLElement): Promise<void> {
  const reactRoot = createRoot(root);
  try {
    const config = await loadConfig();
    await completeSignIn(config.auth);
    reactRoot.render(
      <StrictMode>
        <App config={config} />
      </StrictMode>,
    );
  } catch (error) {
    reactRoot.render(
      <main className="fatal" role="alert">
        <h1>The chat is unavailable</h1>
        <p>{error instanceof Error ? error.message : String(error)}</p>
        <button type="button" className="button button--primary" onClick={() => window.location.reload()}>
          Try again
        </button>
      </main>,
    );
  }
}

void start(document.getElementById("root")!);
