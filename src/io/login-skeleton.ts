/**
 * The confusable skeleton of a login (UTS #39, section 4): two logins whose skeletons are equal look
 * alike ("paypal" and "paypa1", "m" and "rn", Latin "pay" and Cyrillic "рау"). The skeleton is
 * NFD, each character mapped through Unicode's confusables table (the `unhomoglyph` package ships
 * confusables.txt as data), NFD again — then case-folded, as Ergo IRCd does, so "PAYPAL" and
 * "paypa1" collide too. It is for comparing only: never shown, never stored (the user store keeps
 * a keyed hash of it).
 */
import unhomoglyph from 'unhomoglyph';
import { loginKey } from '../machines/protocol.js';
import type { Keyring } from './crypto.js';

export function loginSkeleton(login: string): string {
  const mapped = unhomoglyph(login.normalize('NFD')).normalize('NFD');
  // loginKey's case folding (it ends in NFC), then back to NFD, the form the skeleton is compared in.
  return loginKey(mapped).normalize('NFD');
}

/** What the user stores keep of a skeleton: its keyed hash (the keyring's HMAC, as for the login key). */
export function skeletonKey(keyring: Keyring, login: string): string {
  return keyring.loginKey(loginSkeleton(login));
}
