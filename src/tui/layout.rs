//! Lays a flow out on a character grid, left to right: longest-path layers, dummy slots for
//! edges that skip layers, barycenter sweeps to reduce crossings, then orthogonal edge routes in
//! the gaps between columns. Positions depend only on the flow's shape and which fan-out groups
//! are expanded, so they stay put while statuses change.

// Fx hashing: the layout hashes every item of every layer many times, and SipHash was a
// third of a 5,000-node layout's time; nothing here is keyed by outside input.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use ratatui::layout::Rect;

pub use super::siblings::{FOLD_AT, Siblings};
use crate::flow::Flow;

/// What a box on screen stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BoxKey {
    /// A node; for a fan-out node, the collapsed group.
    Node(usize),
    /// One instance of an expanded fan-out node.
    Instance(usize, usize),
    /// A folded run of sibling nodes: its first node, and the run's index in [`Siblings`].
    Group(usize, usize),
}

impl BoxKey {
    /// The node the box is, or the first of the nodes it stands for.
    pub fn node(self) -> usize {
        match self {
            BoxKey::Node(n) | BoxKey::Instance(n, _) | BoxKey::Group(n, _) => n,
        }
    }
}

/// What decides the set of boxes: fan-outs' instances (and which are expanded), and which
/// sibling runs are folded.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    /// How many instances each node has expanded into (0 if none yet).
    pub instances: &'a [usize],
    /// Whether each fan-out node's instances are shown one by one.
    pub expanded: &'a [bool],
    pub siblings: &'a Siblings,
    /// Whether each sibling run is folded.
    pub folded: &'a [bool],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    pub box_w: u16,
    pub box_h: u16,
    pub gap_x: u16,
    pub gap_y: u16,
    /// One line per node in topological order, indented by depth, no edges.
    pub list: bool,
}

impl Dims {
    /// Boxes with a border and three lines of figures.
    pub const FULL: Dims = Dims { box_w: 24, box_h: 5, gap_x: 6, gap_y: 1, list: false };
    /// The same, narrower, when the full boxes would not fit across.
    pub const NARROW: Dims = Dims { box_w: 18, box_h: 5, gap_x: 4, gap_y: 1, list: false };
    /// One line per node, as wide as the view.
    pub fn compact(width: u16) -> Dims {
        Dims { box_w: width.max(20), box_h: 1, gap_x: 0, gap_y: 0, list: true }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    pub key: BoxKey,
    pub layer: usize,
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

impl Placed {
    pub fn contains(&self, x: u16, y: u16) -> bool {
        x >= self.x && x < self.x + self.w && y >= self.y && y < self.y + self.h
    }

    pub fn mid_y(&self) -> u16 {
        self.y + self.h / 2
    }
}

/// Connectivity of an edge cell.
pub const UP: u8 = 1;
pub const DOWN: u8 = 2;
pub const LEFT: u8 = 4;
pub const RIGHT: u8 = 8;
/// An arrowhead into a box.
pub const ARROW: u8 = 16;

/// An edge as the corner points of its orthogonal route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub from: usize,
    pub to: usize,
    pub points: Vec<(u16, u16)>,
}

#[derive(Debug, Clone)]
pub struct Layout {
    pub dims: Dims,
    pub boxes: Vec<Placed>,
    pub index: HashMap<BoxKey, usize>,
    /// Box indices per layer, top to bottom.
    pub layers: Vec<Vec<usize>>,
    pub width: u16,
    pub height: u16,
    /// Edge connectivity bits per cell, row-major.
    pub cells: Vec<u8>,
    pub routes: Vec<Route>,
    /// For each box, the routes that end at it.
    pub incoming: Vec<Vec<usize>>,
}

/// An item in a layer: a box or a slot an edge passes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Item {
    Box(BoxKey),
    /// The edge chain from a source box passing through a layer.
    Pass(BoxKey, usize),
}

/// The boxes a node shows: instances when expanded, none (or, for its first node, the run's
/// box) when its sibling run is folded, else one box.
pub fn boxes_of(node: usize, shape: &Shape) -> Vec<BoxKey> {
    if let Some(g) = shape.siblings.of.get(node).copied().flatten()
        && shape.folded.get(g).copied().unwrap_or(false)
    {
        let first = shape.siblings.members[g][0];
        return if first == node { vec![BoxKey::Group(first, g)] } else { Vec::new() };
    }
    if shape.expanded[node] && shape.instances[node] > 0 {
        (0..shape.instances[node]).map(|k| BoxKey::Instance(node, k)).collect()
    } else {
        vec![BoxKey::Node(node)]
    }
}

/// Longest-path layer of each node, and the number of layers.
pub fn layers_of(flow: &Flow) -> (Vec<usize>, usize) {
    let mut layer_of = vec![0usize; flow.nodes.len()];
    for &i in &flow.order {
        layer_of[i] = flow.nodes[i].after.iter().map(|&d| layer_of[d] + 1).max().unwrap_or(0);
    }
    let count = layer_of.iter().max().map_or(0, |m| m + 1);
    (layer_of, count)
}

/// The widest box style whose `layers` columns fit in `width`, else the narrowest.
pub fn fit_dims(layers: usize, width: u16) -> Dims {
    // In usize: thousands of layers overflow u16 (a wrapped product could even "fit").
    let need = |d: Dims| (layers.saturating_mul(usize::from(d.box_w + d.gap_x))).saturating_sub(usize::from(d.gap_x)) + 1;
    if need(Dims::FULL) <= usize::from(width) { Dims::FULL } else { Dims::NARROW }
}

/// Lays out `flow` with the boxes `shape` asks for.
pub fn layout(flow: &Flow, shape: &Shape, dims: Dims) -> Layout {
    if dims.list {
        return list_layout(flow, shape, dims);
    }
    let n = flow.nodes.len();
    let (layer_of, layer_count) = layers_of(flow);

    // Items per layer, starting in file order.
    let mut layers: Vec<Vec<Item>> = vec![Vec::new(); layer_count];
    for i in 0..n {
        for b in boxes_of(i, shape) {
            layers[layer_of[i]].push(Item::Box(b));
        }
    }
    // Box-level edges (once each: a folded run's nodes share theirs), and pass-through slots
    // for those that skip layers.
    let mut edges: Vec<(BoxKey, BoxKey)> = Vec::new();
    let mut seen: HashSet<(BoxKey, BoxKey)> = HashSet::default();
    let mut passes: HashMap<(BoxKey, usize), ()> = HashMap::default();
    let shown = |i: usize| -> Vec<BoxKey> {
        match shape.siblings.of.get(i).copied().flatten() {
            Some(g) if shape.folded.get(g).copied().unwrap_or(false) => {
                let first = shape.siblings.members[g][0];
                vec![BoxKey::Group(first, g)]
            }
            _ => boxes_of(i, shape),
        }
    };
    for i in 0..n {
        for &d in &flow.nodes[i].after {
            for s in shown(d) {
                for t in shown(i) {
                    if seen.insert((s, t)) {
                        edges.push((s, t));
                    }
                }
                for (l, layer) in layers.iter_mut().enumerate().take(layer_of[i]).skip(layer_of[d] + 1) {
                    if passes.insert((s, l), ()).is_none() {
                        layer.push(Item::Pass(s, l));
                    }
                }
            }
        }
    }

    // Neighbours of each item in the layer before and the layer after.
    let mut preds: HashMap<Item, Vec<Item>> = HashMap::default();
    let mut succs: HashMap<Item, Vec<Item>> = HashMap::default();
    let mut link = |a: Item, b: Item| {
        succs.entry(a).or_default().push(b);
        preds.entry(b).or_default().push(a);
    };
    let mut linked: HashMap<(Item, Item), ()> = HashMap::default();
    for &(s, t) in &edges {
        let (ls, lt) = (layer_of[s.node()], layer_of[t.node()]);
        let mut prev = Item::Box(s);
        for l in ls + 1..lt {
            let p = Item::Pass(s, l);
            if linked.insert((prev, p), ()).is_none() {
                link(prev, p);
            }
            prev = p;
        }
        if linked.insert((prev, Item::Box(t)), ()).is_none() {
            link(prev, Item::Box(t));
        }
    }

    // Barycenter sweeps, down then up, a few times.
    let mut pos: HashMap<Item, f64> = HashMap::default();
    // Only the layer just sorted moves, so only its positions are written again (rewriting
    // every layer after each sort made a 5,000-node layout take seconds).
    let reindex = |layer: &[Item], pos: &mut HashMap<Item, f64>| {
        for (k, it) in layer.iter().enumerate() {
            pos.insert(*it, k as f64);
        }
    };
    for layer in &layers {
        reindex(layer, &mut pos);
    }
    for _ in 0..4 {
        for layer in layers.iter_mut().skip(1) {
            sort_layer(layer, &preds, &pos);
            reindex(layer, &mut pos);
        }
        for layer in layers.iter_mut().rev().skip(1) {
            sort_layer(layer, &succs, &pos);
            reindex(layer, &mut pos);
        }
    }

    // Coordinates: columns left to right; items stacked, each layer centred on the tallest.
    let col_w = dims.box_w + dims.gap_x;
    let item_h = |it: &Item| match it {
        Item::Box(_) => dims.box_h,
        Item::Pass(..) => 1,
    };
    // Coordinates are u16: a graph wider or taller than that (2,500 layers of full boxes, or
    // 14,000 boxes in one layer) is shown as the list instead of wrapping around.
    let tall: Vec<usize> = layers
        .iter()
        .map(|l| l.iter().map(|it| usize::from(item_h(it) + dims.gap_y)).sum::<usize>().saturating_sub(usize::from(dims.gap_y)))
        .collect();
    let wide = layer_count * usize::from(col_w);
    if wide >= usize::from(u16::MAX) || tall.iter().any(|&h| h >= usize::from(u16::MAX)) {
        return list_layout(flow, shape, Dims::compact(dims.box_w.saturating_mul(3)));
    }
    let heights: Vec<u16> = tall.iter().map(|&h| h as u16).collect();
    let total_h = heights.iter().copied().max().unwrap_or(0).max(1);
    let mut boxes = Vec::new();
    let mut index = HashMap::default();
    let mut box_layers: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
    let mut pass_y: HashMap<(BoxKey, usize), u16> = HashMap::default();
    // Each box's place in its layer, for spreading edges over the gap's tracks.
    let mut slots: Vec<u16> = Vec::new();
    for (l, layer) in layers.iter().enumerate() {
        let x = l as u16 * col_w;
        let mut y = (total_h - heights[l]) / 2;
        for it in layer {
            match it {
                Item::Box(b) => {
                    index.insert(*b, boxes.len());
                    slots.push(box_layers[l].len() as u16);
                    box_layers[l].push(boxes.len());
                    boxes.push(Placed { key: *b, layer: l, x, y, w: dims.box_w, h: dims.box_h });
                }
                Item::Pass(s, pl) => {
                    pass_y.insert((*s, *pl), y);
                }
            }
            y += item_h(it) + dims.gap_y;
        }
    }
    let width = (layer_count as u16 * col_w).saturating_sub(dims.gap_x) + 1;
    let height = total_h;
    let mut cells = vec![0u8; width as usize * height as usize];
    let tracks = dims.gap_x.saturating_sub(2).max(1);

    // Route every edge: out of the source's right side, along a track in each gap, through
    // pass slots, into the target's left side.
    let mut routes = Vec::with_capacity(edges.len());
    let mut incoming = vec![Vec::new(); boxes.len()];
    for &(s, t) in &edges {
        let (Some(&si), Some(&ti)) = (index.get(&s), index.get(&t)) else { continue };
        let (sb, tb) = (boxes[si], boxes[ti]);
        let slot = slots[si];
        let track = 1 + slot % tracks;
        let mut pts = vec![(sb.x + sb.w, sb.mid_y())];
        let mut y = sb.mid_y();
        for l in sb.layer + 1..tb.layer {
            let gap_x = l as u16 * col_w - dims.gap_x;
            let py = pass_y.get(&(s, l)).copied().unwrap_or(y);
            let cx = gap_x + track.min(dims.gap_x.saturating_sub(2));
            pts.push((cx, y));
            pts.push((cx, py));
            y = py;
            pts.push((l as u16 * col_w + dims.box_w, y));
        }
        let gap_start = tb.x - dims.gap_x;
        let cx = gap_start + track.min(dims.gap_x.saturating_sub(2));
        pts.push((cx, y));
        pts.push((cx, tb.mid_y()));
        pts.push((tb.x - 1, tb.mid_y()));
        draw_route(&mut cells, width, &pts);
        let last = pts[pts.len() - 1];
        cells[last.1 as usize * width as usize + last.0 as usize] |= ARROW;
        incoming[ti].push(routes.len());
        routes.push(Route { from: si, to: ti, points: pts });
    }

    Layout { dims, boxes, index, layers: box_layers, width, height, cells, routes, incoming }
}

/// One line per box in topological order; `x` carries the depth as indentation. Every box is
/// in one "layer" so moving up and down walks the list.
fn list_layout(flow: &Flow, shape: &Shape, dims: Dims) -> Layout {
    let (layer_of, _) = layers_of(flow);
    let mut boxes = Vec::new();
    let mut index = HashMap::default();
    for &i in &flow.order {
        for b in boxes_of(i, shape) {
            let depth = (layer_of[i] as u16).min(8) + u16::from(matches!(b, BoxKey::Instance(..)));
            index.insert(b, boxes.len());
            // Past 65,535 lines the last line holds the rest (coordinates are u16).
            let y = u16::try_from(boxes.len()).unwrap_or(u16::MAX);
            boxes.push(Placed { key: b, layer: 0, x: depth, y, w: dims.box_w.saturating_sub(depth), h: 1 });
        }
    }
    let height = u16::try_from(boxes.len()).unwrap_or(u16::MAX);
    let layers = vec![(0..boxes.len()).collect()];
    let incoming = vec![Vec::new(); boxes.len()];
    Layout {
        dims,
        boxes,
        index,
        layers,
        width: dims.box_w,
        height,
        cells: vec![0; dims.box_w as usize * height as usize],
        routes: Vec::new(),
        incoming,
    }
}

fn sort_layer(layer: &mut [Item], nbrs: &HashMap<Item, Vec<Item>>, pos: &HashMap<Item, f64>) {
    let mut keyed: Vec<(f64, usize, Item)> = layer
        .iter()
        .enumerate()
        .map(|(k, it)| {
            let ns = nbrs.get(it).map(Vec::as_slice).unwrap_or(&[]);
            let bary = if ns.is_empty() { k as f64 } else { ns.iter().filter_map(|n| pos.get(n)).sum::<f64>() / ns.len() as f64 };
            (bary, k, *it)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (slot, (_, _, it)) in layer.iter_mut().zip(keyed) {
        *slot = it;
    }
}

/// Sets connectivity bits along an orthogonal polyline.
pub fn draw_route(cells: &mut [u8], width: u16, pts: &[(u16, u16)]) {
    let w = width as usize;
    for seg in pts.windows(2) {
        let ((x0, y0), (x1, y1)) = (seg[0], seg[1]);
        if y0 == y1 {
            let (a, b) = (x0.min(x1), x0.max(x1));
            for x in a..=b {
                let c = &mut cells[y0 as usize * w + x as usize];
                if x > a {
                    *c |= LEFT;
                }
                if x < b {
                    *c |= RIGHT;
                }
            }
        } else if x0 == x1 {
            let (a, b) = (y0.min(y1), y0.max(y1));
            for y in a..=b {
                let c = &mut cells[y as usize * w + x0 as usize];
                if y > a {
                    *c |= UP;
                }
                if y < b {
                    *c |= DOWN;
                }
            }
        }
    }
}

/// Every cell of a route, in order, for highlighting one edge.
pub fn route_cells(pts: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    for seg in pts.windows(2) {
        let ((x0, y0), (x1, y1)) = (seg[0], seg[1]);
        if y0 == y1 {
            if x0 <= x1 {
                out.extend((x0..=x1).map(|x| (x, y0)));
            } else {
                out.extend((x1..=x0).rev().map(|x| (x, y0)));
            }
        } else if x0 <= x1 && y0 <= y1 {
            out.extend((y0..=y1).map(|y| (x0, y)));
        } else {
            out.extend((y1..=y0).rev().map(|y| (x0, y)));
        }
    }
    out
}

/// The box-drawing character for a set of connections.
pub fn glyph(bits: u8) -> char {
    match bits & 15 {
        0 => ' ',
        b if b == LEFT | RIGHT || b == LEFT || b == RIGHT => '─',
        b if b == UP | DOWN || b == UP || b == DOWN => '│',
        b if b == RIGHT | DOWN => '┌',
        b if b == LEFT | DOWN => '┐',
        b if b == RIGHT | UP => '└',
        b if b == LEFT | UP => '┘',
        b if b == UP | DOWN | RIGHT => '├',
        b if b == UP | DOWN | LEFT => '┤',
        b if b == LEFT | RIGHT | DOWN => '┬',
        b if b == LEFT | RIGHT | UP => '┴',
        _ => '┼',
    }
}

impl Layout {
    pub fn cell(&self, x: u16, y: u16) -> u8 {
        if x >= self.width || y >= self.height {
            return 0;
        }
        self.cells[y as usize * self.width as usize + x as usize]
    }

    pub fn box_at(&self, x: u16, y: u16) -> Option<usize> {
        self.boxes.iter().position(|b| b.contains(x, y))
    }
}

/// The part of the view the graph occupies: vertically centred when it is shorter.
pub fn centered(inner: Rect, height: u16) -> Rect {
    if height >= inner.height {
        return inner;
    }
    let top = (inner.height - height) / 2;
    Rect::new(inner.x, inner.y + top, inner.width, inner.height - top)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Source;

    fn flow(text: &str) -> Flow {
        crate::flow::parse_flow(&Source::new("t.toml", text)).expect("flow").0
    }

    fn node(id: &str, after: &[&str]) -> String {
        let a: Vec<String> = after.iter().map(|s| format!("\"{s}\"")).collect();
        format!("[[node]]\nid = \"{id}\"\nkind = \"generate\"\ncomplexity = 1\nprompt = \"x\"\nafter = [{}]\n", a.join(","))
    }

    fn lay(f: &Flow) -> Layout {
        let n = f.nodes.len();
        let sib = Siblings::of_flow(f);
        layout(f, &Shape { instances: &vec![0; n], expanded: &vec![false; n], siblings: &sib, folded: &sib.default_folds() }, Dims::FULL)
    }

    #[test]
    fn layers_run_left_to_right() {
        let f = flow(&format!("[flow]\nname = \"c\"\n{}{}{}", node("a", &[]), node("b", &["a"]), node("c", &["b", "a"])));
        let l = lay(&f);
        let x: Vec<u16> = (0..3).map(|i| l.boxes[l.index[&BoxKey::Node(i)]].x).collect();
        assert!(x[0] < x[1] && x[1] < x[2], "{x:?}");
        assert_eq!(l.routes.len(), 3);
        // The a → c edge skips a layer through a pass slot and ends in an arrow.
        let ac = l.routes.iter().find(|r| l.boxes[r.from].key == BoxKey::Node(0) && l.boxes[r.to].key == BoxKey::Node(2)).expect("edge");
        let end = ac.points[ac.points.len() - 1];
        assert!(l.cell(end.0, end.1) & ARROW != 0);
    }

    #[test]
    fn barycenter_untangles_a_crossing() {
        // a1 feeds b2 and a2 feeds b1: in file order the edges cross; sorting fixes it.
        let f =
            flow(&format!("[flow]\nname = \"x\"\n{}{}{}{}", node("a1", &[]), node("a2", &[]), node("b1", &["a2"]), node("b2", &["a1"])));
        let l = lay(&f);
        let y = |i: usize| l.boxes[l.index[&BoxKey::Node(i)]].y;
        assert_eq!(y(0) < y(1), y(3) < y(2), "b2 sits level with a1");
    }

    #[test]
    fn expanded_groups_show_instances() {
        let f = flow(&format!(
            "[flow]\nname = \"m\"\n{}[[node]]\nid = \"m\"\nkind = \"search\"\ncomplexity = 1\nprompt = \"{{{{item}}}}\"\nafter = [\"a\"]\nmap = {{ over = \"a\" }}\n{}",
            node("a", &[]),
            node("z", &["m"])
        ));
        let sib = Siblings::of_flow(&f);
        let shape = |expanded: &'static [bool]| Shape { instances: &[0, 3, 0], expanded, siblings: &sib, folded: &[] };
        let collapsed = layout(&f, &shape(&[false, false, false]), Dims::FULL);
        assert_eq!(collapsed.boxes.len(), 3);
        let expanded = layout(&f, &shape(&[false, true, false]), Dims::FULL);
        assert_eq!(expanded.boxes.len(), 5);
        assert_eq!(expanded.routes.len(), 6);
        assert!(expanded.index.contains_key(&BoxKey::Instance(1, 2)));
    }

    #[test]
    fn a_run_of_siblings_folds_into_one_box_with_its_edges_once() {
        // a → b0..b7 → z: eight siblings of one kind waiting on the same node; c is of the same
        // kind but waits on b0, so it is not one of them.
        let mut text = format!("[flow]\nname = \"s\"\n{}", node("a", &[]));
        for k in 0..8 {
            text.push_str(&node(&format!("b{k}"), &["a"]));
        }
        let bs: Vec<String> = (0..8).map(|k| format!("b{k}")).collect();
        let refs: Vec<&str> = bs.iter().map(String::as_str).collect();
        text.push_str(&node("z", &refs));
        text.push_str(&node("c", &["b0"]));
        let f = flow(&text);
        let sib = Siblings::of_flow(&f);
        assert_eq!(sib.members, vec![(1..9).collect::<Vec<_>>()], "b0..b7 are one run; a, z and c are in none");
        assert_eq!(sib.default_folds(), vec![true], "eight is past FOLD_AT");
        let n = f.nodes.len();
        let (inst, exp) = (vec![0; n], vec![false; n]);
        let folded = layout(&f, &Shape { instances: &inst, expanded: &exp, siblings: &sib, folded: &[true] }, Dims::FULL);
        assert_eq!(folded.boxes.len(), 4, "a, the run, z, c");
        assert!(folded.index.contains_key(&BoxKey::Group(1, 0)));
        assert!(!folded.index.contains_key(&BoxKey::Node(2)), "b1 is inside the folded box");
        assert_eq!(folded.routes.len(), 3, "a → run, run → z, run → c: each once");
        let open = layout(&f, &Shape { instances: &inst, expanded: &exp, siblings: &sib, folded: &[false] }, Dims::FULL);
        assert_eq!(open.boxes.len(), 11);
        assert_eq!(open.routes.len(), 17);
        // The compact list folds the same way.
        let list = layout(&f, &Shape { instances: &inst, expanded: &exp, siblings: &sib, folded: &[true] }, Dims::compact(60));
        assert_eq!(list.boxes.len(), 4);
    }

    #[test]
    fn a_graph_beyond_the_canvas_coordinates_is_laid_out_as_the_list() {
        let chain = |n: usize| {
            let ids: Vec<String> = (0..n).map(|k| format!("n{k}")).collect();
            (0..n).fold(String::from("[flow]\nname = \"c\"\n"), |t, k| {
                t + &node(&ids[k], &ids[k.saturating_sub(1)..k].iter().map(String::as_str).collect::<Vec<_>>())
            })
        };
        // 3,000 layers of full boxes are 90,000 columns, past a u16 coordinate (a 2,500-layer
        // flow panicked drawing its routes); 14,000 boxes in one layer are 84,000 rows (each
        // after its own pair of 240 roots, so that none fold together).
        let tall = (0..240).fold(String::from("[flow]\nname = \"t\"\n"), |t, r| t + &node(&format!("r{r}"), &[]));
        let tall = (0..14_000).fold(tall, |t, k| t + &node(&format!("n{k}"), &[&format!("r{}", k % 100), &format!("r{}", 100 + k / 100)]));
        for text in [chain(3000), tall] {
            let l = lay(&flow(&text));
            assert!(l.boxes.len() >= 3000 && l.routes.is_empty() && l.boxes.iter().all(|b| b.h == 1), "the list");
            assert!(l.boxes.iter().enumerate().all(|(k, b)| usize::from(b.y) == k), "one line each, in order");
        }
        // Within the coordinates, the graph as before.
        let l = lay(&flow(&chain(100)));
        assert!(!l.routes.is_empty() && l.boxes.iter().all(|b| b.h == Dims::FULL.box_h), "the graph");
    }

    #[test]
    fn glyphs_join() {
        assert_eq!(glyph(LEFT | RIGHT), '─');
        assert_eq!(glyph(UP | DOWN | RIGHT), '├');
        assert_eq!(glyph(LEFT | DOWN), '┐');
        assert_eq!(glyph(UP | DOWN | LEFT | RIGHT), '┼');
    }
}
