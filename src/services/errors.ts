// Domain errors: expected failures a client can act on. The schema maps each to a typed member
// of a result union (STYLE: Errors); nothing here knows about GraphQL or HTTP.

export abstract class DomainError extends Error {
  abstract readonly code: string;
}

export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
  readonly entity: string;
  readonly id: string;
  constructor(entity: string, id: string) {
    super(`${entity} ${id} not found`);
    this.entity = entity;
    this.id = id;
  }
}

export class InvalidInputError extends DomainError {
  readonly code = 'INVALID_INPUT';
}
