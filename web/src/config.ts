// The runtime settings, fetched from /config.json at start-up so that one build serves every
// environment (Terraform's chat_site module writes the file; `make dev` serves its own).

export interface AuthConfig {
  mode: "none" | "jwt";
  cognito_domain?: string | null;
  client_id?: string | null;
}

export interface SiteConfig {
  websocketUrl: string;
  auth: AuthConfig;
}

export class ConfigError extends Error {}

export function parseConfig(raw: unknown): SiteConfig {
  if (!raw || typeof raw !== "object") throw new ConfigError("config.json is not a JSON object.");
  const { websocketUrl, auth } = raw as Record<string, unknown>;
  if (typeof websocketUrl !== "string" || !/^wss?:\/\//.test(websocketUrl)) {
    throw new ConfigError("config.json: websocketUrl must be a ws:// or wss:// URL.");
  }
  const authObject = (auth ?? { mode: "none" }) as Record<string, unknown>;
  if (authObject.mode !== "none" && authObject.mode !== "jwt") {
    throw new ConfigError('config.json: auth.mode must be "none" or "jwt".');
  }
  return {
    websocketUrl,
    auth: {
      mode: authObject.mode,
      cognito_domain: typeof authObject.cognito_domain === "string" ? authObject.cognito_domain : null,
      client_id: typeof authObject.client_id === "string" ? authObject.client_id : null,
    },
  };
}

export async function loadConfig(fetchImpl: typeof fetch = fetch): Promise<SiteConfig> {
  const response = await fetchImpl("/config.json", { cache: "no-store" });
  if (!response.ok) throw new ConfigError(`config.json could not be loaded (HTTP ${response.status}).`);
  return parseConfig(await response.json());
}
