import type { ExecutionResult } from 'graphql';
import { MemoryOverviewDocument, type MemoryProgressSubscription } from '../../src/sdk/generated/graphql.ts';
import type { LiveSubscription, TestClient } from './client.ts';

// Shared by the L1 memory suites: a small corpus on three themes, and waiting for builds.

/** Two first-person documents per theme, worded so the themes share no content words. */
export const THEMES = {
  sailing: [
    'I went sailing with my friend Anna Kowalski in Gdansk. Sailing the yacht across the bay, we trimmed the sails and the jib. The mainsail filled, the rigging hummed and the yacht heeled in the gusts. Sailing with Anna, I steer the tiller while the sails pull the hull. ' +
      'We tacked the yacht upwind, eased the sheets on the reach and sailed the boat back to the marina. Sailing at dawn, the sails and the rigging wet with spray, is my favourite kind of sailing. The yacht, the sails, the tiller and the wind: sailing needs all of them.',
    'My sailing log: the yacht left the marina, the sails caught the breeze and the keel cut the waves. I reefed the mainsail when the gusts grew. Sailing is reading the wind, trimming the sails and steering the tiller. The hull, mast and rigging of the yacht need care after sailing. ' +
      'Next season I want to sail the yacht to the islands, anchor in a cove and sail home under the spinnaker. Sailing log entries list the wind, the sails set, the knots sailed and every tack of the boat.',
  ],
  baking: [
    'I bake sourdough bread every Sunday. Baking starts with the starter, flour and water kneaded into dough. The dough rises, then I shape the loaves and bake the bread in the oven. Baking bread, I score the loaves so the crust opens in the oven. ' +
      'The sourdough starter needs feeding with flour and water, and the dough needs folding while it proofs. Baking teaches me to watch the dough, not the clock, and a hot oven gives the bread its crust. I bake two loaves of bread each time.',
    'My baking notes: rye flour makes a dense loaf, the oven needs preheating, and steam makes the bread crust crisp. I bake croissants, folding butter into the dough. Baking pastry, I knead the dough, proof the loaves and bake them until the crust is golden. ' +
      'For baking cakes I cream butter and sugar, fold in flour and eggs, and bake the batter in a tin. Baking notes list the flour, the dough hydration, the oven heat and how long each loaf of bread baked.',
  ],
  astronomy: [
    'I watch the stars through my telescope. Astronomy is my hobby: I track planets, the moon and galaxies, and I log every comet in my astronomy journal. The telescope eyepiece shows craters on the moon. Astronomy means charts of stars, planets and nebulae. ' +
      'On clear nights I set up the telescope, find the planets, and sketch the stars of each constellation. Astronomy needs dark skies, a steady telescope mount and patience with the stars and planets.',
    'My astronomy journal: Jupiter and Saturn rose together, the telescope showed the moons of Jupiter, and the nebula in Orion glowed. I aligned the telescope mount on the pole star. Astronomy maps the stars, the planets and the orbits of comets. ' +
      'Through the telescope the rings of Saturn, the phases of the moon and the galaxies in the constellations fill my astronomy journal. Astronomy nights end with the telescope packed and the stars logged.',
  ],
} as const;
export type Theme = keyof typeof THEMES;

export type ProgressEvent = ExecutionResult<MemoryProgressSubscription>;

/** The event's MemoryProgress, or null for a ReplayGap or an error. */
export const stageOf = (e: ProgressEvent) => {
  const p = e.data?.memoryProgress;
  return p?.__typename === 'MemoryProgress' ? p : null;
};

/** Waits for the next build to end (DONE or FAILED) and returns its last event. */
export async function nextBuild(events: LiveSubscription<ProgressEvent>, timeoutMs = 90_000) {
  const seen = await events.until((e) => ['DONE', 'FAILED'].includes(stageOf(e)?.stage ?? ''), timeoutMs);
  return stageOf(seen.at(-1)!)!;
}

/** `memory` with its bio and topic tree (`depth: null`: every level). */
export async function overview(client: TestClient, depth: number | null = 0) {
  const res = await client.request(MemoryOverviewDocument, { depth });
  if (res.errors?.length) throw new Error(JSON.stringify(res.errors));
  return res.data!.memory;
}
