/** The value, or a thrown Error naming what is missing (tests use it instead of a non-null assertion). */
export function defined<T>(value: T, what = "value"): NonNullable<T> {
  if (value === undefined || value === null) throw new Error(`expected ${what} to be defined`);
  return value;
}
