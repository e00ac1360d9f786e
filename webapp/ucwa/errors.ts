// Distinct failures, named as in openucwa.client.errors, so the UI can say what happened.
import { isObject } from "./links";

export class UcwaClientError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
    readonly subcode?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
/** The token was refused, expired or revoked; or the user name/password is wrong. */
export class AuthError extends UcwaClientError {}
/** The server could not be reached (or answered 5xx). */
export class NetworkError extends UcwaClientError {}
/** The server answered something the flow did not expect. */
export class ProtocolError extends UcwaClientError {}
/** The application is gone (404/410): create it again. */
export class ApplicationGone extends UcwaClientError {}
/** Another P-GET replaced ours (another tab with the same endpointId). */
export class PGetReplaced extends UcwaClientError {}

export function responseError(status: number, body: unknown, what: string): UcwaClientError {
  const code = isObject(body) && typeof body.code === "string" ? body.code : undefined;
  const subcode = isObject(body) && typeof body.subcode === "string" ? body.subcode : undefined;
  const msg = isObject(body) && typeof body.message === "string" ? body.message : `HTTP ${status}`;
  if (status === 401) return new AuthError(`${what}: the server refused the token`, status, code, subcode);
  if (status >= 500) return new NetworkError(`${what}: ${msg}`, status, code, subcode);
  return new UcwaClientError(`${what}: ${msg}`, status, code, subcode);
}

/** A human sentence for a UCWA `reason` ({code, subcode, message}) of a failed operation. */
export function reasonText(reason: unknown): string {
  if (!isObject(reason)) return "failed";
  if (typeof reason.message === "string" && reason.message) return reason.message;
  return String(reason.subcode ?? reason.code ?? "failed");
}
