// Style mixes bundled by `mobilestyle bundle --mix-steps N`: a mix is a manifest style entry with
// "mix": {"styles": [a, b], "weight": b's share}. The same rules as mobilestyle/mix_ladders.py (the reference; its
// answers are the golden fixture mixes.json): the style picker lists the styles that are not mixes, a style's
// partners are the styles it has a mix with, and a ladder runs from the style alone (share 0) to its partner (1).

/** Names of the styles a picker shows: those that are not mixes, in manifest order. */
export function pickable(styles) {
  return styles.filter((s) => !s.mix).map((s) => s.name);
}

/** The styles `primary` has at least one bundled mix with, in manifest order. */
export function partners(styles, primary) {
  const names = pickable(styles);
  const found = new Set();
  for (const style of styles) {
    const pair = style.mix?.styles || [];
    if (pair.length !== 2 || !pair.includes(primary)) continue;
    const other = pair[0] === primary ? pair[1] : pair[0];
    if (other !== primary && names.includes(other)) found.add(other);
  }
  return names.filter((name) => found.has(name));
}

const round6 = (x) => Math.round(x * 1e6) / 1e6;

/** [{share, style}] from 0 (`primary` alone) to 1 (`partner` alone), sorted by the partner's share. */
export function ladder(styles, primary, partner) {
  const points = [{ share: 0, style: primary }, { share: 1, style: partner }];
  for (const style of styles) {
    const pair = style.mix?.styles;
    if (!pair || pair.length !== 2 || !((pair[0] === primary && pair[1] === partner) || (pair[0] === partner && pair[1] === primary))) continue;
    const weight = Number(style.mix.weight);
    points.push({ share: round6(pair[1] === partner ? weight : 1 - weight), style: style.name });
  }
  return points.sort((a, b) => a.share - b.share || (a.style < b.style ? -1 : a.style > b.style ? 1 : 0));
}

/** Index of the ladder point nearest to a share in 0..1. */
export function nearest(points, share) {
  let best = 0;
  points.forEach((p, i) => {
    if (Math.abs(p.share - share) < Math.abs(points[best].share - share)) best = i;
  });
  return best;
}
