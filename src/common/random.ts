import { hash, randomBytes, randomInt } from 'node:crypto';

/** Meteor's id alphabet, so ids look like the Rocket.Chat ids clients already handle. */
const ID_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz';

export const randomId = (length = 17): string => {
  let id = '';
  for (let i = 0; i < length; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
};

/** 32 random bytes as base64url: bearer secrets (login tokens, verification links). */
export const randomToken = (): string => randomBytes(32).toString('base64url');

// One-shot hash: no Hash object per call (every authenticated request hashes its token).
export const sha256Hex = (value: string): string => hash('sha256', value, 'hex');
