// Typed errors. Each has a stable `name` so callers can branch on it without
// importing the classes (errors cross bundle boundaries in apps).

/** A message from the node could not be decoded (bad protobuf, bad UTF-8, bad peer id). */
export class MalformedMessageError extends Error {
  constructor (message = 'malformed message') {
    super(message)
    this.name = 'MalformedMessageError'
  }
}

/** A length prefix announced more bytes than the protocol allows; nothing was allocated. */
export class MessageTooLargeError extends Error {
  constructor (size, limit) {
    super(`message of ${size} bytes exceeds the limit of ${limit} bytes`)
    this.name = 'MessageTooLargeError'
    this.size = size
    this.limit = limit
  }
}

/** The stream ended or was reset before a complete message arrived. */
export class StreamClosedError extends Error {
  constructor (message = 'stream closed before a complete message arrived') {
    super(message)
    this.name = 'StreamClosedError'
  }
}

/**
 * The node answered with a non-OK status. `status` is the numeric code shared
 * by /rendezvous/1.0.0 and /ws-star/1.0.0 (100 invalid namespace, 200 not
 * authorized, 300 internal error, 400 unavailable, ...), `statusName` its name.
 */
export class ServerStatusError extends Error {
  constructor (status, statusText, context) {
    const name = STATUS_NAMES[status] ?? `status ${status}`
    super(`${context}: ${name}${statusText ? ` (${statusText})` : ''}`)
    this.name = 'ServerStatusError'
    this.status = status
    this.statusName = name
    this.statusText = statusText ?? ''
  }
}

/** A signed peer record did not verify, or it was signed by another peer than the one listed. */
export class InvalidPeerRecordError extends Error {
  constructor (message = 'invalid signed peer record') {
    super(message)
    this.name = 'InvalidPeerRecordError'
  }
}

/** An argument or option is out of range. Thrown synchronously by constructors and methods. */
export class InvalidParametersError extends Error {
  constructor (message) {
    super(message)
    this.name = 'InvalidParametersError'
  }
}

/** The operation needs a started service. */
export class NotStartedError extends Error {
  constructor (message = 'service is not started') {
    super(message)
    this.name = 'NotStartedError'
  }
}

export const STATUS_NAMES = Object.freeze({
  0: 'OK',
  100: 'E_INVALID_NAMESPACE',
  101: 'E_INVALID_SIGNED_PEER_RECORD',
  102: 'E_INVALID_TTL',
  103: 'E_INVALID_COOKIE',
  200: 'E_NOT_AUTHORIZED',
  300: 'E_INTERNAL_ERROR',
  400: 'E_UNAVAILABLE'
})
