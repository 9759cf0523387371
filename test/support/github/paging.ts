/** One page of a list as GitHub serves it: `per_page` (default 30, at most 100) and `page` (from 1). */
export function pageOf<T>(items: readonly T[], query: URLSearchParams): T[] {
  const perPage = Math.min(Number(query.get("per_page") ?? 30), 100);
  const page = Math.max(Number(query.get("page") ?? 1), 1);
  return items.slice((page - 1) * perPage, page * perPage);
}
