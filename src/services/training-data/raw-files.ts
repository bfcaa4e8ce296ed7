import { splitByPerspective } from '../memory/snapshot/snapshot-store.ts';
import { l2Keys } from '../tenant-keys.ts';
import { recordId } from './assemble.ts';
import type { Material } from './material.ts';
import type { Draft, DropReason, L2Type } from './records.ts';

// The audit files of a run: raw_data/{type}.json in Second-Me's shapes (`user`, `assistant`,
// diversity's `entity_name`, `question_type`, `answer_type`, `doc_id`) with ours (sources,
// generator, version, split, why dropped), merged.json of what was kept, and the mappings.

export const ENTITY_MAPPING = 'id_entity_mapping_subjective_v2';
export const CHUNK_MAPPING = 'id_chunk_mapping';

const json = (value: unknown) => JSON.stringify(value);

/** raw_data/*.json (every proposal, with why it was dropped) and mapping/*.json. */
export function rawFiles(
  runId: string,
  material: Material,
  proposed: readonly Draft[],
  dropped: ReadonlyMap<Draft, DropReason>,
  splitOf: ReadonlyMap<Draft, 'train' | 'eval'>,
): Map<string, string> {
  const base = (d: Draft) => ({
    id: recordId(d),
    user: d.question,
    assistant: d.answer,
    sourceChunkIds: d.sourceChunkIds,
    generator: d.generator,
    l1Version: material.version,
  });
  const status = (d: Draft) => ({ split: splitOf.get(d) ?? null, dropped: dropped.get(d) ?? null });
  const ofType = (type: L2Type) => proposed.filter((d) => d.type === type);
  const files = new Map<string, string>();
  files.set(
    l2Keys.raw(runId, 'preference'),
    json(
      ofType('preference').map((d) => ({
        ...base(d),
        clusterId: d.meta.clusterId,
        topic: d.meta.topic,
        ...status(d),
      })),
    ),
  );
  files.set(
    l2Keys.raw(runId, 'diversity'),
    json(
      ofType('diversity').map((d) => ({
        ...base(d),
        entity_name: d.meta.entity_name,
        question_type: d.meta.question_type,
        answer_type: d.meta.answer_type,
        doc_id: d.meta.doc_id,
        ...status(d),
      })),
    ),
  );
  files.set(l2Keys.raw(runId, 'selfqa'), json(ofType('selfqa').map((d) => ({ ...base(d), ...status(d) }))));
  files.set(
    l2Keys.raw(runId, 'abstention'),
    json(
      ofType('abstention')
        .filter((d) => dropped.get(d) !== 'cap')
        .map((d) => ({ ...base(d), probe: d.probe, probe_kind: d.meta.probe_kind, ...status(d) })),
    ),
  );
  files.set(
    l2Keys.raw(runId, 'merged'),
    json(
      proposed
        .filter((d) => splitOf.has(d))
        .map((d) => ({ ...base(d), type: d.type, split: splitOf.get(d)! })),
    ),
  );

  const subjective = splitByPerspective(material.snapshot).subjective.entities;
  files.set(
    l2Keys.mapping(runId, ENTITY_MAPPING),
    json(
      subjective.flatMap((e) => {
        // only evidence that is still there and in the person's words: a deleted or changed
        // document, or a name only an assistant's turn held, is never pointed at
        const title = e.title.toLowerCase();
        const units = e.textUnitIds.filter((id) => material.byId.get(id)?.text.toLowerCase().includes(title));
        if (units.length === 0) return [];
        return [
          {
            entity_id: e.id,
            entity_name: e.title,
            entity_type: e.type,
            entity_description: e.description,
            doc_id: [...new Set(units.map((id) => material.byId.get(id)!.documentId))],
            text_unit_ids: units,
          },
        ];
      }),
    ),
  );
  const cited = new Set([...splitOf.keys()].flatMap((d) => d.sourceChunkIds));
  files.set(
    l2Keys.mapping(runId, CHUNK_MAPPING),
    json(
      Object.fromEntries(
        material.chunks
          .filter((c) => cited.has(c.id))
          .map((c) => [
            c.id,
            {
              documentId: c.documentId,
              chunkIndex: c.chunkIndex,
              filename: c.filename,
              clusterId: c.clusterId,
              topic: c.topic,
            },
          ]),
      ),
    ),
  );
  return files;
}
