/** GraphQL enum values for the domain's lower-case constants: `queued` is `QUEUED`. */
export const upperCaseValues = <T extends string>(values: readonly T[]) =>
  Object.fromEntries(values.map((v) => [v.toUpperCase(), { value: v }])) as Record<
    Uppercase<T>,
    { value: T }
  >;
