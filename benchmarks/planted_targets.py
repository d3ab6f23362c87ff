"""Planted targets for the provenance benchmark, written by hand (issue 7, item 2).

For each of eight State of the Union paragraphs (ids of `provenance corpus sotu`), four texts at
falling similarity to the source:

- verbatim:   the paragraph's opening sentences copied exactly (a partial verbatim copy);
- paraphrase: the same content reworded, keeping some of the source's words and names;
- heavy:      the same content with the source's distinctive words avoided (names, numbers,
              rare nouns replaced by plain descriptions);
- topic:      a different paragraph on a similar subject (same field, other facts).

The texts are original (not taken from other addresses) so that no other corpus paragraph is
a near copy of a target by construction; `tests/benchmarks` checks the verbatim ones are exact
substrings of their source.
"""

from dataclasses import dataclass

LEVELS = ("verbatim", "paraphrase", "heavy", "topic")


@dataclass(frozen=True)
class Planted:
    source_id: str
    verbatim: str
    paraphrase: str
    heavy: str
    topic: str

    def text(self, level: str) -> str:
        return getattr(self, level)


PLANTED = (
    Planted(
        source_id="1814-Madison-1/p13",
        verbatim=(
            "On Lake Champlain, where our superiority had for some time been undisputed, the "
            "British squadron lately came into action with the American, commanded by Captain "
            "Macdonough. It issued in the capture of the whole of the enemy's ships."
        ),
        paraphrase=(
            "Lately on Lake Champlain, where we had long held the upper hand, the British "
            "squadron fought the American one under Captain Macdonough, and the battle ended "
            "with every one of the enemy's ships captured. His triumph is like the famous "
            "victory that gave us command of another lake."
        ),
        heavy=(
            "Up north on the inland waters our fleet met the foe a short while ago, and our "
            "sailors took all of their vessels. The leader of that fight and his brave men "
            "deserve the same honour as the hero of the earlier win on the other great water."
        ),
        topic=(
            "Our frigates at sea have also done well this year. Several fights with single "
            "ships of the enemy off the coast ended in our favour, and the prizes were brought "
            "into port. The officers and crews have shown skill and courage that do credit to "
            "the naval service."
        ),
    ),
    Planted(
        source_id="1894-Cleveland-1/p100",
        verbatim=(
            "Attention is called to the report of the Secretary of the Navy, which shows very "
            "gratifying progress in the construction of ships for our new Navy."
        ),
        paraphrase=(
            "The report of the Secretary of the Navy shows that the construction of ships for "
            "our new Navy is progressing very well. The vessels now building, including the "
            "three torpedo boats Congress authorized and except the battle ship Iowa, should "
            "be finished in the coming fiscal year."
        ),
        heavy=(
            "The head of the sea service tells us that the building of our modern fleet is "
            "going along nicely. Almost every craft under way, the small fast attack boats "
            "among them, should be done within twelve months; only the big armoured one will "
            "take longer."
        ),
        topic=(
            "The Army has made good use of the funds given to it. The coast forts are being "
            "armed with heavy guns of modern design, new barracks have been built at several "
            "posts, and the militia of the States has been better drilled and equipped than "
            "in any former year."
        ),
    ),
    Planted(
        source_id="1840-VanBuren-1/p53",
        verbatim=(
            "It will be seen that the Postmaster-General suggests certain improvements in the "
            "establishment designed to reduce the weight of the mails, cheapen the "
            "transportation, insure greater regularity in the service"
        ),
        paraphrase=(
            "The Postmaster-General proposes improvements in the establishment that would "
            "lighten the mails, make their transportation cheaper, make the service more "
            "regular, and considerably reduce the rates of letter postage. This subject is of "
            "general interest and I recommend it to your consideration."
        ),
        heavy=(
            "The officer in charge of carrying letters asks for changes: lighter bags, lower "
            "cost of moving them, deliveries that keep to time, and smaller charges for each "
            "sheet sent. Everyone cares about this, so I ask you to look at it."
        ),
        topic=(
            "The roads over which the mails are carried have been much improved, and new "
            "routes have been opened to the settlements in the West. The revenue of the "
            "department now nearly meets its expenses, and the number of post offices has "
            "grown with the population."
        ),
    ),
    Planted(
        source_id="1978-Carter-1/p39",
        verbatim=(
            "Almost $17 billion in income tax cuts will go to individuals. Ninety-six percent "
            "of all American taxpayers will see their taxes go down."
        ),
        paraphrase=(
            "Individuals will get nearly $17 billion in income tax cuts, and taxes will go "
            "down for ninety-six percent of American taxpayers. A typical family of four will "
            "save more than $250 a year, about 20 percent, and a $2 billion cut in excise "
            "taxes will help lower inflation."
        ),
        heavy=(
            "People will keep a great deal more of what they earn: almost everyone who files "
            "will owe less. An ordinary household with two children keeps a few hundred more "
            "each year, roughly a fifth of what it paid, and smaller levies on goods will also "
            "help hold prices down."
        ),
        topic=(
            "We must also make the tax system simpler and fairer. Too many loopholes let those "
            "with high incomes pay less than their share, while working families carry the "
            "load. I will send the Congress proposals to close them and to reduce the burden "
            "of paperwork on small business."
        ),
    ),
    Planted(
        source_id="1975-Ford-1/p30",
        verbatim=(
            "Economic disruptions we and others are experiencing stem in part from the fact "
            "that the world price of petroleum has quadrupled in the last year."
        ),
        paraphrase=(
            "The economic disruptions we and others face come partly from the quadrupling of "
            "the world price of petroleum last year. We cannot blame only the oil-exporting "
            "nations; the United States is not blameless, for our growing dependence on "
            "foreign sources made us vulnerable before the embargo of 1973."
        ),
        heavy=(
            "Part of the trouble in our economy and abroad comes from fuel costing four times "
            "what it did a year ago. It is not fair to point only at the countries that sell "
            "it: we leaned more and more on supplies from overseas and did nothing to get "
            "ready for the day they were cut off."
        ),
        topic=(
            "To save energy we must use less gasoline and heat our homes more carefully. I "
            "propose higher standards for new automobiles, more coal in our power plants, and "
            "the rapid development of nuclear power and of the reserves on public lands."
        ),
    ),
    Planted(
        source_id="1992-Bush-1/p20",
        verbatim=(
            "I remind you this evening that I have asked for your support in funding a "
            "program to protect our country from limited nuclear missile attack."
        ),
        paraphrase=(
            "Tonight I remind you that I asked for your support in funding a program to "
            "protect our country against a limited nuclear missile attack. We need this "
            "protection because too many countries have access to nuclear arms, so again I "
            "urge you to pass the Strategic Defense Initiative."
        ),
        heavy=(
            "Once more I ask you to pay for a shield that would guard the nation against a "
            "small number of rockets carrying atomic warheads. Such weapons are spreading to "
            "more and more hands around the globe, so we need this defence."
        ),
        topic=(
            "We have agreed with the Soviet Union to cut the number of long-range weapons on "
            "both sides, and we will go further. Our forces can be smaller as the danger "
            "recedes, but they must remain ready and well equipped."
        ),
    ),
    Planted(
        source_id="1929-Hoover-1/p117",
        verbatim=(
            "In view of the considerable difference of opinion as to the policies which should "
            "be pursued by the Federal Government with respect to education, I have appointed "
            "a committee representative of the important educational associations"
        ),
        paraphrase=(
            "Because opinion differs considerably on what policies the Federal Government "
            "should pursue in education, I have appointed a committee of the important "
            "educational associations to investigate and recommend. With the Secretary of the "
            "Interior I also appointed a voluntary committee to help a nation-wide movement "
            "to abolish illiteracy."
        ),
        heavy=(
            "People disagree a good deal about what Washington ought to do for schools, so I "
            "have asked a group drawn from the teachers' organisations to study it and advise "
            "me. Another group of well-known volunteers will help the drive to teach every "
            "grown person to read and write."
        ),
        topic=(
            "The land-grant colleges and the vocational schools have done much for the young "
            "people of the farms and towns. Federal aid to them should continue, but the "
            "control of the schools must remain with the States and the local communities."
        ),
    ),
    Planted(
        source_id="1952-Truman-1/p72",
        verbatim=(
            "Defense needs will take a lot of steel, aluminum, copper, nickel, and other "
            "scarce materials. This means smaller production of some civilian goods."
        ),
        paraphrase=(
            "Defense needs will use much of our steel, aluminum, copper, nickel and other "
            "scarce materials, so some civilian goods will be produced in smaller amounts. The "
            "cutbacks will be far less than in World War II, when civilian production almost "
            "stopped, but some goods will be scarcer than in the past 2 or 3 years."
        ),
        heavy=(
            "Arming the country will consume a large share of our metals, and factories will "
            "make fewer things for households. It will not be as hard as in the last great "
            "conflict, when such output nearly ceased, yet shoppers will find less on the "
            "shelves than they are used to."
        ),
        topic=(
            "Prices have risen sharply since the fighting began, and the controls on wages and "
            "prices must be continued. Without them the cost of living would climb faster and "
            "the burden of the defense program would fall hardest on families with fixed "
            "incomes."
        ),
    ),
)
