// jwt mode: the WebSocket authorizer wants a token as `?token=` on the URL (browsers cannot set
// headers on a WebSocket). With a Cognito hosted-UI domain and app client id in config.json the
// page signs in with the authorization-code flow and PKCE (no client secret in the page) and
// keeps the tokens in sessionStorage (gone when the tab closes). Without them, a token handed
// over in the URL fragment (`#access_token=…`, e.g. by a host page) is used.
import type { AuthConfig } from "./config";

const TOKENS = "order-agent.tokens";
const PKCE = "order-agent.pkce";
const EXPIRY_MARGIN_MS = 60_000;

interface Tokens {
  accessToken: string;
  refreshToken?: string;
  expiresAt: number; // ms since epoch
}

export class SignInRequired extends Error {
  constructor(message = "Please sign in to chat with us.") {
    super(message);
  }
}

function domainUrl(auth: AuthConfig): string | null {
  if (!auth.cognito_domain || !auth.client_id) return null;
  return auth.cognito_domain.startsWith("https://") ? auth.cognito_domain : `https://${auth.cognito_domain}`;
}

function redirectUri(): string {
  return `${window.location.origin}/`;
}

function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(bytes = 32): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

function readTokens(): Tokens | null {
  try {
    const tokens = JSON.parse(sessionStorage.getItem(TOKENS) ?? "null") as Tokens | null;
    return tokens && typeof tokens.accessToken === "string" ? tokens : null;
  } catch {
    return null;
  }
}

function saveTokens(body: { access_token: string; refresh_token?: string; expires_in?: number }, previous?: Tokens) {
  const tokens: Tokens = {
    accessToken: body.access_token,
    refreshToken: body.refresh_token ?? previous?.refreshToken,
    expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000,
  };
  sessionStorage.setItem(TOKENS, JSON.stringify(tokens));
  return tokens;
}

async function tokenRequest(auth: AuthConfig, params: Record<string, string>) {
  const response = await fetch(`${domainUrl(auth)}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: auth.client_id ?? "", ...params }),
  });
  if (!response.ok) throw new SignInRequired("Your sign-in has expired. Please sign in again.");
  return (await response.json()) as { access_token: string; refresh_token?: string; expires_in?: number };
}

/** Finish a sign-in redirect (or take a token from the fragment) before the app starts. */
export async function completeSignIn(auth: AuthConfig): Promise<void> {
  if (auth.mode !== "jwt") return;
  const url = new URL(window.location.href);
  const fragment = new URLSearchParams(url.hash.slice(1));
  const handed = fragment.get("access_token");
  if (handed) {
    saveTokens({ access_token: handed, expires_in: Number(fragment.get("expires_in") ?? 3600) });
    history.replaceState(null, "", url.pathname + url.search);
    return;
  }
  const code = url.searchParams.get("code");
  const state = url.searchParams.get("state");
  if (!code || !domainUrl(auth)) return;
  const saved = JSON.parse(sessionStorage.getItem(PKCE) ?? "null") as { state: string; verifier: string } | null;
  sessionStorage.removeItem(PKCE);
  history.replaceState(null, "", url.pathname);
  if (!saved || saved.state !== state) throw new SignInRequired("The sign-in could not be completed. Please try again.");
  saveTokens(
    await tokenRequest(auth, {
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri(),
      code_verifier: saved.verifier,
    }),
  );
}

/** Go to the hosted sign-in page (Cognito), coming back to this page with a code. */
export async function signIn(auth: AuthConfig): Promise<void> {
  const domain = domainUrl(auth);
  if (!domain) throw new SignInRequired("Sign-in is not configured for this site.");
  const verifier = randomString(48);
  const state = randomString(16);
  const challenge = base64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  sessionStorage.setItem(PKCE, JSON.stringify({ state, verifier }));
  const params = new URLSearchParams({
    response_type: "code",
    client_id: auth.client_id ?? "",
    redirect_uri: redirectUri(),
    scope: "openid email",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  window.location.assign(`${domain}/oauth2/authorize?${params}`);
}

/** The WebSocket URL to open now: with a valid token in jwt mode (refreshed when needed). */
export async function connectUrl(websocketUrl: string, auth: AuthConfig): Promise<string> {
  if (auth.mode !== "jwt") return websocketUrl;
  let tokens = readTokens();
  if (tokens && tokens.expiresAt - EXPIRY_MARGIN_MS < Date.now()) {
    tokens = tokens.refreshToken && domainUrl(auth)
      ? saveTokens(await tokenRequest(auth, { grant_type: "refresh_token", refresh_token: tokens.refreshToken }), tokens)
      : null;
  }
  if (!tokens) throw new SignInRequired();
  const url = new URL(websocketUrl);
  url.searchParams.set("token", tokens.accessToken);
  return url.toString();
}

export function signOut(): void {
  sessionStorage.removeItem(TOKENS);
}
