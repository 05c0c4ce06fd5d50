/** The card a cardholder typed, as {@link encryptCard} takes it. */
export interface CardInput {
  /** 12 to 19 digits passing the Luhn check; spaces and hyphens are ignored. */
  cardNumber: string;
  /** 1 to 12. */
  expiryMonth: number | string;
  /** YYYY, or YY meaning 20YY. */
  expiryYear: number | string;
  /** 3 or 4 digits. */
  cvv?: string;
  /** As printed on the card, 1 to 50 characters. */
  cardholderName?: string;
  /** Card sequence number, 1 to 3 digits. */
  sequenceNumber?: string;
  /** "Valid from" month, 1 to 12 (with `startYear`). */
  startMonth?: number | string;
  /** "Valid from" year, YYYY or YY (with `startMonth`). */
  startYear?: number | string;
}

/** Options of {@link encryptCard}. */
export interface EncryptCardOptions {
  /** The id of the server key `publicKey` is (`keyId` of `GET /v2/public-key`): the JWE `kid`. */
  keyAlias: string;
  /** When the card was captured; default now. Sent as `captureTime`; the server refuses it 15 minutes later. */
  captureTime?: Date | number;
}
