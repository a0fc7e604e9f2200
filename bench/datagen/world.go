package datagen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// Random streams: every table (and every day of events) draws from its own
// PCG stream of the seed, so generation order and parallelism never change
// the values.
const (
	streamShops   uint64 = 0x5110_0001
	streamDevices uint64 = 0x5110_0002
	streamNested  uint64 = 0x5110_0003
	streamDayBase uint64 = 0x5110_1000
)

func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

// world holds the dimension values that the fact table refers to. It is built
// once per WriteDemo and read concurrently afterwards (never written).
type world struct {
	opts DemoOptions

	// Shops, indexed by shop number s in [0, Shops).
	shopCodes  []string
	shopNames  []string
	categories []string
	floors     []int32
	opened     []int32 // days since the Unix epoch
	shopCum    []float64

	// Access points; shop s owns APs apStart[s] .. apStart[s+1]-1.
	apStart []int32
	apShop  []int32
	apIPs   []string
	apMACs  []string

	// Devices, indexed by device number d in [0, Devices).
	deviceMACs    []string
	deviceVendor  []int8 // index into vendors, -1 for a randomized MAC
	deviceX       []float64
	deviceY       []float64
	deviceMinRSSI []int32
	deviceCum     []float64
}

var categoryNames = []string{
	"Fashion", "Food & Beverage", "Electronics", "Sports", "Beauty",
	"Home", "Books", "Toys", "Jewelry", "Services", "Entertainment", "Grocery",
}

var nameFirst = []string{
	"Golden", "Blue", "Urban", "Silver", "Lucky", "Green", "Little", "Royal",
	"Happy", "Bright", "North", "Red", "Crystal", "Sunny", "Jade", "Maple",
}

var nameSecond = []string{
	"Lotus", "Harbor", "Dragon", "Garden", "Bridge", "Panda", "Cloud", "River",
	"Tiger", "Orchid", "Lantern", "Pine", "Crane", "Pearl", "Bamboo", "Phoenix",
}

var categoryNouns = [][]string{
	{"Boutique", "Wear", "Outfitters"},
	{"Cafe", "Noodles", "Kitchen", "Tea House", "Bakery"},
	{"Digital", "Electronics", "Mobile"},
	{"Sports", "Outdoor", "Fitness"},
	{"Beauty", "Cosmetics", "Spa"},
	{"Home", "Living", "Deco"},
	{"Books", "Reading Room"},
	{"Toys", "Kids"},
	{"Jewelry", "Gold", "Watches"},
	{"Laundry", "Pharmacy", "Bank", "Travel"},
	{"Cinema", "Arcade", "KTV"},
	{"Market", "Mart"},
}

// Device vendors with a real OUI each; devices without one use a randomized
// (locally administered) MAC, as modern phones do when probing.
var vendors = []struct {
	name   string
	oui    [3]byte
	os     string
	models []string
}{
	{"Apple", [3]byte{0xf0, 0x18, 0x98}, "iOS", []string{"iPhone 15", "iPhone 16", "iPhone 17 Pro", "iPad Air"}},
	{"Samsung", [3]byte{0x8c, 0xf5, 0xa3}, "Android", []string{"Galaxy S25", "Galaxy A56", "Galaxy Z Flip7"}},
	{"Xiaomi", [3]byte{0x64, 0x09, 0x80}, "Android", []string{"Xiaomi 15", "Redmi Note 14", "POCO F7"}},
	{"Huawei", [3]byte{0x00, 0xe0, 0xfc}, "HarmonyOS", []string{"Mate 70", "Pura 80", "nova 14"}},
	{"OPPO", [3]byte{0x2c, 0x5b, 0xb8}, "Android", []string{"Find X8", "Reno 14"}},
	{"vivo", [3]byte{0x3c, 0xa3, 0x48}, "Android", []string{"X200", "iQOO 13"}},
	{"Google", [3]byte{0x3c, 0x28, 0x6d}, "Android", []string{"Pixel 9", "Pixel 10"}},
}

var osVersions = map[string][]string{
	"iOS":       {"17.6", "18.5", "26.0", "26.1"},
	"Android":   {"13", "14", "15", "16"},
	"HarmonyOS": {"4.2", "5.0", "5.1"},
}

// newWorld draws the shops, access points and devices.
func newWorld(o DemoOptions) *world {
	w := &world{opts: o}
	w.genShops()
	w.genDevices()
	return w
}

func (w *world) genShops() {
	n := w.opts.Shops
	r := newRand(w.opts.Seed, streamShops)
	w.shopCodes = make([]string, n)
	w.shopNames = make([]string, n)
	w.categories = make([]string, n)
	w.floors = make([]int32, n)
	w.opened = make([]int32, n)

	// Popularity: a Zipf-like weight by rank, ranks shuffled over the shops
	// so that the busiest shop is not simply S0001.
	rank := r.Perm(n)
	weights := make([]float64, n)

	firstDay := int32(time.Date(2008, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	lastDay := int32(w.opts.Start.Unix()/86400) - 30
	if lastDay <= firstDay {
		lastDay = firstDay + 1
	}
	floors := []int32{-1, 1, 1, 2, 2, 3, 3, 4, 5}

	w.apStart = make([]int32, n+1)
	for s := range n {
		w.shopCodes[s] = shopCode(s)
		c := r.IntN(len(categoryNames))
		w.categories[s] = categoryNames[c]
		nouns := categoryNouns[c]
		w.shopNames[s] = nameFirst[r.IntN(len(nameFirst))] + " " +
			nameSecond[r.IntN(len(nameSecond))] + " " + nouns[r.IntN(len(nouns))]
		w.floors[s] = floors[r.IntN(len(floors))]
		w.opened[s] = firstDay + r.Int32N(lastDay-firstDay)
		weights[s] = 1 / math.Pow(float64(rank[s])+2, 0.9)

		aps := 2 + r.IntN(5)
		w.apStart[s+1] = w.apStart[s] + int32(aps)
		for a := range aps {
			w.apShop = append(w.apShop, int32(s))
			w.apIPs = append(w.apIPs, "10."+strconv.Itoa((s+1)>>8)+"."+strconv.Itoa((s+1)&0xff)+"."+strconv.Itoa(a+1))
			w.apMACs = append(w.apMACs, formatMAC([6]byte{0xaa, 0xbb, 0xcc, byte((s + 1) >> 8), byte(s + 1), byte(a + 1)}))
		}
	}
	w.shopCum = cumulative(weights)
}

// shopCode is the code of shop number s: S0001, S0002, ...
func shopCode(s int) string { return fmt.Sprintf("S%04d", s+1) }

func (w *world) genDevices() {
	n := w.opts.Devices
	r := newRand(w.opts.Seed, streamDevices)
	w.deviceMACs = make([]string, n)
	w.deviceVendor = make([]int8, n)
	w.deviceX = make([]float64, n)
	w.deviceY = make([]float64, n)
	w.deviceMinRSSI = make([]int32, n)
	weights := make([]float64, n)
	seen := make(map[[6]byte]struct{}, n)
	for d := range n {
		var mac [6]byte
		vendor := int8(-1)
		for {
			u := r.Uint64()
			for i := range mac {
				mac[i] = byte(u >> (8 * i))
			}
			if r.IntN(100) < 45 {
				vendor = int8(r.IntN(len(vendors)))
				copy(mac[:3], vendors[vendor].oui[:])
			} else {
				vendor = -1
				mac[0] = mac[0]&0xfc | 0x02 // locally administered, unicast
			}
			if _, dup := seen[mac]; !dup {
				seen[mac] = struct{}{}
				break
			}
		}
		w.deviceMACs[d] = formatMAC(mac)
		w.deviceVendor[d] = vendor
		w.deviceX[d] = math.Round(r.Float64()*40000) / 100 // metres on a 400 x 160 m floor plan
		w.deviceY[d] = math.Round(r.Float64()*16000) / 100
		w.deviceMinRSSI[d] = -95 + r.Int32N(36) // [-95, -60]

		// Repeat visitors: a fifth of the devices (staff and regulars) draw
		// about 60% of the visits, the rest mostly show up once or twice.
		if r.IntN(5) == 0 {
			weights[d] = 6 * (0.5 + r.Float64())
		} else {
			weights[d] = 0.5 + r.Float64()
		}
	}
	w.deviceCum = cumulative(weights)
}

const hexDigits = "0123456789abcdef"

func formatMAC(m [6]byte) string {
	var b [17]byte
	for i, v := range m {
		if i > 0 {
			b[3*i-1] = ':'
		}
		b[3*i] = hexDigits[v>>4]
		b[3*i+1] = hexDigits[v&0xf]
	}
	return string(b[:])
}

// cumulative returns the running sums of weights.
func cumulative(weights []float64) []float64 {
	cum := make([]float64, len(weights))
	sum := 0.0
	for i, v := range weights {
		sum += v
		cum[i] = sum
	}
	return cum
}

// pick draws an index with probability proportional to its weight.
func pick(r *rand.Rand, cum []float64) int {
	u := r.Float64() * cum[len(cum)-1]
	i, _ := slices.BinarySearch(cum, u)
	return min(i, len(cum)-1)
}
