/* Which date group a chat belongs to in the sidebar, as ChatGPT groups them. Pure. */

const DAY_MS = 86_400_000;

function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate());
}

/** Return the group label of a moment seen at `now`: Today, Yesterday, Previous 7 days, Previous 30 days, or its month. */
export function dateGroup(iso, now = new Date()) {
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return "Older";
  const days = Math.round((startOfDay(now) - startOfDay(then)) / DAY_MS);
  if (days <= 0) return "Today";
  if (days === 1) return "Yesterday";
  if (days < 7) return "Previous 7 days";
  if (days < 30) return "Previous 30 days";
  const sameYear = then.getFullYear() === now.getFullYear();
  return then.toLocaleDateString("en", sameYear ? { month: "long" } : { month: "long", year: "numeric" });
}

/** Group items (newest first) by `dateGroup` of `when(item)`, keeping their order: [[label, items], …]. */
export function groupByDate(items, when, now = new Date()) {
  const groups = [];
  for (const item of items) {
    const label = dateGroup(when(item), now);
    const last = groups.at(-1);
    if (last && last[0] === label) last[1].push(item);
    else groups.push([label, [item]]);
  }
  return groups;
}
