// Turns what the API answers into a sentence a person can act on. The service puts a
// machine-readable `extensions.code` on every error; the message that comes with it is
// already safe to show and says what was wrong with the input, so it is kept where it
// helps (bad input, an AI failure) and replaced where a plain sentence is clearer.
import type { CombinedError } from '@urql/core';

export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'RATE_LIMITED'
  | 'QUOTA_EXCEEDED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'AI_PROVIDER_ERROR'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR';

export interface ApiError {
  message: string;
  extensions?: Record<string, unknown>;
}

/**
 * Where the error happened, when that changes what it means: signing in with a name and
 * password (UNAUTHENTICATED is a wrong password there, not a bad token).
 */
export type ErrorContext = 'login' | 'other';

/** "N seconds" from an error's `extensions.retryAfter`, or `null` when it has none. */
function retryAfter(extensions: Record<string, unknown> | undefined): string | null {
  const seconds = Math.ceil(Number(extensions?.retryAfter));
  if (!Number.isFinite(seconds) || seconds <= 0) return null;
  return seconds === 1 ? '1 second' : `${seconds} seconds`;
}

/** One error from the API in words, from its code and (where useful) its message. */
export function describeApiError(
  { message, extensions }: ApiError,
  context: ErrorContext = 'other',
): string {
  const code = extensions?.code as ErrorCode | undefined;
  switch (code) {
    case 'BAD_USER_INPUT':
      return `That was not accepted: ${message}`;
    case 'UNAUTHENTICATED':
      return context === 'login'
        ? 'Wrong name or password.'
        : 'Your token was not accepted: check it and sign in again.';
    case 'FORBIDDEN':
      return `You are not allowed to do that: ${message}`;
    case 'NOT_FOUND':
      return 'Not found: it may have been deleted.';
    case 'RATE_LIMITED': {
      const what = context === 'login' ? 'attempts' : 'requests';
      const wait = retryAfter(extensions);
      return wait
        ? `Too many ${what}; try again in ${wait}.`
        : `Too many ${what}; try again in a moment.`;
    }
    case 'QUOTA_EXCEEDED':
      return describeQuota(extensions ?? {});
    case 'PAYLOAD_TOO_LARGE':
      return `That file is too large: ${message}`;
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 'That file is not an image the service accepts: use JPEG, PNG, WebP or GIF.';
    case 'AI_PROVIDER_ERROR': {
      const missing = notConfigured(extensions);
      return missing ?? `The AI provider could not do it: ${message}`;
    }
    case 'SERVICE_UNAVAILABLE':
      return 'The service is unavailable for a moment. Try again shortly.';
    case 'INTERNAL_SERVER_ERROR':
      return 'Something went wrong on the server. Try again; if it keeps happening, tell an admin.';
    default:
      return message;
  }
}

/**
 * The refusal of a service with no AI provider (the offline one cannot generate or plan):
 * `AI_PROVIDER_ERROR` with `extensions.reason` `NOT_CONFIGURED` and the `feature` refused.
 * The code alone would read as a provider failure, which retrying cannot fix here.
 */
function notConfigured(extensions: Record<string, unknown> | undefined): string | null {
  if (extensions?.reason !== 'NOT_CONFIGURED') return null;
  const feature = String(extensions.feature ?? 'this');
  const capitalised = feature.charAt(0).toUpperCase() + feature.slice(1);
  return (
    `${capitalised} is not available: this service has no AI provider set up. ` +
    'An admin can set OPENAI_API_KEY (or OPENAI_BASE_URL for an OpenAI-compatible server) and restart it.'
  );
}

/** A quota refusal from its figures (`quota`, `used`, `requested`, `limit`). */
function describeQuota(extensions: Record<string, unknown>): string {
  const limit = Number(extensions.limit);
  const used = Number(extensions.used);
  switch (extensions.quota) {
    case 'images':
      return `You have ${used} of at most ${limit} images: delete some to add more.`;
    case 'storedBytes': {
      const mb = (bytes: number) => `${Math.round(bytes / 1e5) / 10} MB`;
      return `That would go over your storage of ${mb(limit)} (${mb(used)} used): delete some images first.`;
    }
    case 'activeBenchmarkRuns':
      return `You already have ${used} benchmark ${used === 1 ? 'run' : 'runs'} going, the most allowed: wait for one to finish.`;
    default:
      return 'You have reached a limit of your account: delete something first, or ask an admin.';
  }
}

/** Whether the error means the stored token is no good (so the app signs out). */
export function isUnauthenticated(error: CombinedError | undefined): boolean {
  return !!error?.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
}

/** The first error of a failed operation in words. */
export function describeError(
  error: CombinedError | Error | undefined | null,
  context: ErrorContext = 'other',
): string {
  if (!error) return '';
  if ('graphQLErrors' in error && error.graphQLErrors.length > 0) {
    return describeApiError(error.graphQLErrors[0], context);
  }
  if ('networkError' in error && error.networkError) {
    return 'Cannot reach the service. Check your connection and try again.';
  }
  return error.message;
}
