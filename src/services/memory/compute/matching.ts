// Keeps ids stable across full rebuilds (MEMORY-TRAINING A6): a new cluster (or topic) whose
// members mostly match an old one inherits its id, so its label and the links users saw survive.
// Greedy one-to-one by Jaccard similarity, best pairs first; ties break on the new set's index
// and then the old id, so the result does not depend on Map order.

export function matchByJaccard(
  previous: Map<string, readonly string[]>,
  next: readonly (readonly string[])[],
  threshold = 0.5,
): (string | null)[] {
  const owners = new Map<string, string[]>();
  const oldSizes = new Map<string, number>();
  for (const [id, members] of previous) {
    const unique = new Set(members);
    oldSizes.set(id, unique.size);
    for (const member of unique) {
      const list = owners.get(member);
      if (list) list.push(id);
      else owners.set(member, [id]);
    }
  }
  const pairs: { score: number; index: number; id: string }[] = [];
  next.forEach((members, index) => {
    const unique = new Set(members);
    const overlap = new Map<string, number>();
    for (const member of unique) {
      for (const id of owners.get(member) ?? []) overlap.set(id, (overlap.get(id) ?? 0) + 1);
    }
    for (const [id, shared] of overlap) {
      const score = shared / (unique.size + oldSizes.get(id)! - shared);
      if (score >= threshold) pairs.push({ score, index, id });
    }
  });
  pairs.sort((a, b) => b.score - a.score || a.index - b.index || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const result: (string | null)[] = next.map(() => null);
  const taken = new Set<string>();
  for (const { index, id } of pairs) {
    if (result[index] !== null || taken.has(id)) continue;
    result[index] = id;
    taken.add(id);
  }
  return result;
}
