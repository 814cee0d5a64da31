// Sign-in attempts a minute per key (a source address, an account): a sliding window of stamps.

export class RateLimiter {
  private readonly hits = new Map<string, number[]>();
  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
    /** keys remembered at most: a flood of addresses cannot grow the map without bound */
    private readonly maxKeys = 10_000,
  ) {}

  /** Count one attempt for key; false when it is over the limit (the attempt is then refused). */
  hit(key: string): boolean {
    const t = this.now();
    const recent = (this.hits.get(key) ?? []).filter((s) => t - s < 60_000);
    if (recent.length >= this.perMinute) {
      this.hits.set(key, recent);
      return false;
    }
    recent.push(t);
    this.hits.delete(key); // re-insert: the map's order is then least recently used first
    this.hits.set(key, recent);
    while (this.hits.size > this.maxKeys) this.hits.delete(this.hits.keys().next().value!);
    return true;
  }
}
