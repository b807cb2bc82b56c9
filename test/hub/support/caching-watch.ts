/**
 * Who believes it caches which account, judged from the agents' side: a violation is any moment
 * at which two open streams were told caching=true for one account. An agent forgets what it
 * was told when its stream ends (as a real agent does).
 */
export interface CachingWatch {
  readonly violations: string[];
  told(agentId: string, account: string, kind: "add" | "save" | "delete", caching: boolean | undefined): void;
  gone(agentId: string): void;
}

/** An empty watch. */
export function createCachingWatch(): CachingWatch {
  const believers = new Map<string, Set<string>>();
  const violations: string[] = [];
  return {
    violations,
    told(agentId, account, kind, caching) {
      const set = believers.get(account) ?? new Set<string>();
      believers.set(account, set);
      if (kind !== "delete" && caching === true) {
        set.add(agentId);
        if (set.size > 1) violations.push(`${account}: ${[...set].join(", ")}`);
      } else set.delete(agentId);
    },
    gone(agentId) {
      for (const set of believers.values()) set.delete(agentId);
    },
  };
}
