package com.mobilestyle.demo.core;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Style mixes as the app's mix slider sees them: ladders of bundled nets between two styles. Same answers as the
 * reference, mobilestyle/mix_ladders.py ({@code pickable}, {@code partners}, {@code ladder}); the golden fixture
 * mixes.json holds its answers.
 *
 * <ul>
 *   <li>Pickable styles (the style picker): the styles without a "mix" field, in manifest order.
 *   <li>Partners of a style: the pickable styles it shares at least one mix with, in manifest order. A mix whose
 *       other style is not bundled (or not among the styles given) is ignored.
 *   <li>The ladder of (primary, partner): the partner's share 0 (the primary itself), every mix of exactly those two
 *       styles at the partner's share ({@code weight} when the partner is the mix's second style, else
 *       {@code 1 - weight}, rounded to 6 decimals like Python's {@code round}), and 1 (the partner itself), sorted by
 *       share, then name.
 * </ul>
 */
public final class Mixes {
    private static final int SHARE_DECIMALS = 6;

    /** One rung of a ladder: the partner's share (0..1) and the style whose model gives it. */
    public static final class Point {
        public final double share;
        public final StyleManifest.Style style;

        Point(double share, StyleManifest.Style style) {
            this.share = share;
            this.style = style;
        }

        @Override
        public String toString() {
            return share + " " + style.name;
        }
    }

    private final List<StyleManifest.Style> styles;
    private final List<StyleManifest.Style> pickable;

    private Mixes(List<StyleManifest.Style> styles) {
        this.styles = Collections.unmodifiableList(new ArrayList<>(styles));
        List<StyleManifest.Style> plain = new ArrayList<>();
        for (StyleManifest.Style s : styles) {
            if (s.mix == null) {
                plain.add(s);
            }
        }
        this.pickable = Collections.unmodifiableList(plain);
    }

    /** The mixes among {@code styles} (the app passes the styles it can run: those with a TFLite model). */
    public static Mixes of(List<StyleManifest.Style> styles) {
        return new Mixes(styles);
    }

    /** The styles a style picker lists: those that are not mixes, in manifest order. */
    public List<StyleManifest.Style> pickable() {
        return pickable;
    }

    /** The pickable style of that name, or null. */
    public StyleManifest.Style pickable(String name) {
        for (StyleManifest.Style s : pickable) {
            if (s.name.equals(name)) {
                return s;
            }
        }
        return null;
    }

    /** The pickable styles {@code primary} has at least one mix with, in manifest order (empty: no mix slider). */
    public List<StyleManifest.Style> partners(String primary) {
        Set<String> found = new LinkedHashSet<>();
        for (StyleManifest.Style s : styles) {
            if (s.mix == null || !s.mix.styles.contains(primary)) {
                continue;
            }
            found.add(s.mix.styles.get(0).equals(primary) ? s.mix.styles.get(1) : s.mix.styles.get(0));
        }
        List<StyleManifest.Style> out = new ArrayList<>();
        for (StyleManifest.Style s : pickable) {
            if (found.contains(s.name) && !s.name.equals(primary)) {
                out.add(s);
            }
        }
        return out;
    }

    /**
     * The ladder from {@code primary} (share 0) to {@code partner} (share 1) through every bundled mix of the two,
     * sorted by the partner's share (ties by name). Both must be pickable styles.
     */
    public List<Point> ladder(String primary, String partner) {
        StyleManifest.Style from = pickable(primary);
        StyleManifest.Style to = pickable(partner);
        if (from == null || to == null) {
            throw new IllegalArgumentException("a ladder needs two bundled plain styles, not " + primary + " and " + partner);
        }
        if (primary.equals(partner)) {
            throw new IllegalArgumentException("a ladder needs two different styles, not " + primary + " twice");
        }
        List<Point> points = new ArrayList<>();
        points.add(new Point(0.0, from));
        points.add(new Point(1.0, to));
        for (StyleManifest.Style s : styles) {
            if (s.mix != null && s.mix.isOf(primary, partner)) {
                points.add(new Point(round(s.mix.shareOf(partner)), s));
            }
        }
        points.sort(Comparator.<Point>comparingDouble(p -> p.share).thenComparing(p -> p.style.name));
        return Collections.unmodifiableList(points);
    }

    /** The index of the ladder point closest to a slider position {@code share} (0..1); ties go to the lower share. */
    public static int nearestIndex(List<Point> ladder, double share) {
        if (ladder.isEmpty()) {
            throw new IllegalArgumentException("empty ladder");
        }
        if (Double.isNaN(share)) {
            throw new IllegalArgumentException("share is NaN");
        }
        int best = 0;
        for (int i = 1; i < ladder.size(); i++) {
            if (Math.abs(ladder.get(i).share - share) < Math.abs(ladder.get(best).share - share)) {
                best = i;
            }
        }
        return best;
    }

    /** The ladder point closest to a slider position {@code share} (0..1); ties go to the lower share. */
    public static Point nearest(List<Point> ladder, double share) {
        return ladder.get(nearestIndex(ladder, share));
    }

    /** Python's {@code round(x, 6)}: the exact binary value rounded half to even at 6 decimals. */
    static double round(double share) {
        return new BigDecimal(share).setScale(SHARE_DECIMALS, RoundingMode.HALF_EVEN).doubleValue();
    }
}
