// Unit tests of static/chat/js/dates.js: the sidebar's date groups.
import assert from "node:assert/strict";
import { test } from "node:test";

import { dateGroup, groupByDate } from "../../static/chat/js/dates.js";

const now = new Date(2026, 4, 20, 9, 30); // 20 May 2026, 09:30 local time
const at = (month, day, hour = 12) => new Date(2026, month - 1, day, hour).toISOString();

test("today, yesterday, the last week and month, then by month", () => {
  assert.equal(dateGroup(at(5, 20, 0), now), "Today");
  assert.equal(dateGroup(at(5, 19, 23), now), "Yesterday");
  assert.equal(dateGroup(at(5, 14), now), "Previous 7 days");
  assert.equal(dateGroup(at(5, 13), now), "Previous 30 days");
  assert.equal(dateGroup(at(4, 21), now), "Previous 30 days");
  assert.equal(dateGroup(at(3, 2), now), "March");
  assert.equal(dateGroup(new Date(2025, 11, 24).toISOString(), now), "December 2025");
});

test("a clock a little ahead of ours still says today; nonsense is older", () => {
  assert.equal(dateGroup(new Date(now.getTime() + 60_000).toISOString(), now), "Today");
  assert.equal(dateGroup("not a date", now), "Older");
});

test("groupByDate keeps the order and makes one group per run of labels", () => {
  const items = [at(5, 20), at(5, 20), at(5, 19), at(5, 1), at(2, 3)].map((updated) => ({ updated }));
  const groups = groupByDate(items, (item) => item.updated, now);
  assert.deepEqual(
    groups.map(([label, members]) => [label, members.length]),
    [
      ["Today", 2],
      ["Yesterday", 1],
      ["Previous 30 days", 1],
      ["February", 1],
    ],
  );
});
