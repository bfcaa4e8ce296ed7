import { LRUCache } from 'lru-cache';
import { InvalidInputError } from './errors.ts';
import type { UsersRepository } from './ports/repositories.ts';
import { isStorageSafeId } from './tenant-keys.ts';

// Users are created on first authenticated use; the cache keeps that to one INSERT per user. It
// forgets after a while: an account deleted through another replica is created again here in time.
export class UsersService {
  private readonly known = new LRUCache<string, true>({ max: 10_000, ttl: 5 * 60_000 });
  private readonly users: UsersRepository;

  constructor(users: UsersRepository) {
    this.users = users;
  }

  async ensure(userId: string): Promise<void> {
    if (this.known.has(userId)) return;
    if (!isStorageSafeId(userId)) throw new InvalidInputError(`invalid user id ${JSON.stringify(userId)}`);
    await this.users.ensure(userId);
    this.known.set(userId, true);
  }

  /** After the account's deletion: the next request creates the user again. */
  forget(userId: string): void {
    this.known.delete(userId);
  }
}
