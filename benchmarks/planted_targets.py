"""Planted targets for the provenance benchmarks, written by hand (issue 7, item 2; issue 15,
item 3).

For each of 24 State of the Union paragraphs (ids of `provenance corpus sotu`), four texts at
falling similarity to the source:

- verbatim:   the paragraph's opening sentences copied exactly (a partial verbatim copy);
- paraphrase: the same content reworded, keeping some of the source's words and names;
- heavy:      the same content with the source's distinctive words avoided (names, numbers,
              rare nouns replaced by plain descriptions);
- topic:      a different paragraph on a similar subject (same field, other facts).

The texts are original (not taken from other addresses) so that no other corpus paragraph is
a near copy of a target by construction; `tests/benchmarks` checks the verbatim ones are exact
substrings of their source. Five cases are decoys: a distinctive phrase of the source also
appears in another paragraph of the corpus (found by searching the corpus for 7-word sequences
shared by exactly two paragraphs of different addresses), and the verbatim target contains it.
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
    # A decoy case: `shared_phrase` (in the source and, verbatim, in the verbatim target) also
    # appears in the corpus paragraph `decoy_id`, from another address; both are trained on.
    decoy_id: str = ""
    shared_phrase: str = ""

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
    # Sixteen more cases (issue 15, item 3), 1804 to 2022. The first five are decoy cases: a
    # distinctive phrase of the source (`shared_phrase`) also appears in another corpus
    # paragraph (`decoy_id`, a different address), so a verbatim copy is not found by that
    # phrase alone.
    Planted(
        source_id="1994-Clinton-1/p52",
        verbatim=(
            "We achieved agreements with Ukraine, with Belarus, with Kazahkstan to eliminate "
            "completely their nuclear arsenal. We are working to achieve a Korean Peninsula "
            "free of nuclear weapons."
        ),
        paraphrase=(
            "We reached agreements with Ukraine, Belarus and Kazahkstan under which they will "
            "give up their nuclear arsenal completely, and we are working toward a Korean "
            "Peninsula free of nuclear weapons. We also secured indictments against terrorists "
            "and want a treaty banning chemical weapons ratified early."
        ),
        heavy=(
            "Three nations that came out of the old Soviet state have agreed to give up every "
            "atomic bomb left on their soil, and we are pressing for the same in East Asia. "
            "We charged men who plot attacks on civilians and we hope the ban on poison gas "
            "will soon be in force."
        ),
        topic=(
            "Arms control remains at the center of our foreign policy. We will press for "
            "deeper cuts in strategic forces, stronger inspections of plants that could make "
            "bomb fuel, and an end to the sale of missiles to governments that threaten their "
            "neighbours."
        ),
        decoy_id="2007-Bush-1/p52",
        shared_phrase="Korean Peninsula free of nuclear weapons",
    ),
    Planted(
        source_id="1838-VanBuren-1/p51",
        verbatim=(
            "It affords me sincere pleasure to be able to apprise you of the entire removal of "
            "the Cherokee Nation of Indians to their new homes west of the Mississippi."
        ),
        paraphrase=(
            "I am sincerely pleased to tell you that the Cherokee Nation of Indians has been "
            "removed entirely to their new homes west of the Mississippi. The measures "
            "Congress authorized at its last session had the happiest effects, and under "
            "their own chiefs they emigrated without apparent reluctance."
        ),
        heavy=(
            "I can report that one of the large tribes of the South has now left its old "
            "country entirely for lands beyond the great river. Last year's law settled a "
            "long quarrel, and the people travelled under their own leaders, led by the "
            "general in the field, and went willingly."
        ),
        topic=(
            "The agents among the tribes report that the schools and farms set up for them "
            "are doing well. Annuities have been paid on time, and the frontier posts keep "
            "the peace between the settlers and the bands who hunt on the prairies."
        ),
        decoy_id="1840-VanBuren-1/p44",
        shared_phrase="their new homes west of the Mississippi",
    ),
    Planted(
        source_id="1893-Cleveland-1/p36",
        verbatim=(
            "the United States, departing from its policy consecrated by a century of "
            "observance, entered four years ago into the treaty of Berlin, thereby becoming "
            "jointly bound with England and Germany to establish and maintain Malietoa "
            "Laupepa as King of Samoa."
        ),
        paraphrase=(
            "Four years ago the United States broke with a policy observed for a century and "
            "entered the treaty of Berlin, becoming jointly bound with England and Germany to "
            "keep Malietoa Laupepa as King of Samoa. The treaty created a foreign court, a "
            "council for Apia and a revenue system for the islands."
        ),
        heavy=(
            "Breaking with a tradition a hundred years old, we signed a pact with two "
            "European empires to set up and keep a native ruler on the throne of a group of "
            "Pacific islands. It gave them foreign judges, a town council with a foreign head "
            "and new taxes to pay for it all."
        ),
        topic=(
            "Our relations with the island kingdoms of the Pacific call for care. Our ships "
            "need coaling stations there, and our merchants trade in their ports, but we "
            "should not take part in quarrels over who rules them or share their government "
            "with the great powers."
        ),
        decoy_id="1895-Cleveland-1/p46",
        shared_phrase="jointly bound with England and Germany",
    ),
    Planted(
        source_id="2022-Biden-1/p72",
        verbatim=(
            "When we invest in our workers and we build an economy from the bottom up and the "
            "middle out, together we can do something we haven't done in a long time: build "
            "a better America."
        ),
        paraphrase=(
            "Let's pass the PRO Act: if most workers want to form a union, nobody should be "
            "able to stop them. When we invest in our workers and build an economy from the "
            "bottom up and the middle out, we can do together what we haven't done in a long "
            "time and build a better America."
        ),
        heavy=(
            "Congress should protect the right to organise: when most people in a workplace "
            "want to bargain together, no one should block them. Put money into working "
            "people, grow prosperity from ordinary families outward, and this country can "
            "again become something finer."
        ),
        topic=(
            "Wages have been rising fastest for the workers at the bottom of the ladder. "
            "Factories are opening again in towns that had lost them, and I want every "
            "new job built with American steel to pay enough to raise a family."
        ),
        decoy_id="2023-Biden-1/p23",
        shared_phrase="an economy from the bottom up and the middle out",
    ),
    Planted(
        source_id="1876-Grant-1/p48",
        verbatim=(
            "The improvement of the South Pass of the Mississippi River, under James B. Eads "
            "and his associates, is progressing favorably."
        ),
        paraphrase=(
            "James B. Eads and his associates are making good progress on the improvement of "
            "the South Pass of the Mississippi River. The channel between the jetties is now "
            "over 20 feet deep, but not yet as wide as the law requires before the United "
            "States pays; engineer officers are examining the works."
        ),
        heavy=(
            "The work to deepen one of the outlets of the great river at the Gulf is going "
            "well. The passage between the new walls of stone is more than a score of feet "
            "deep, though not yet wide enough for the contractor to be paid, and army "
            "engineers are inspecting it now."
        ),
        topic=(
            "The rivers and harbors of the country need steady care. Sandbars close the "
            "mouths of our ports to large ships, the levees along the lower valley give way "
            "in every flood, and the appropriations for these works should not be spread too "
            "thin to finish any of them."
        ),
        decoy_id="1879-Hayes-1/p83",
        shared_phrase="South Pass of the Mississippi River",
    ),
    Planted(
        source_id="1804-Jefferson-1/p5",
        verbatim=(
            "I have the satisfaction to inform you that the objections which had been urged "
            "by that Government against the validity of our title to the country of "
            "Louisiana have been withdrawn"
        ),
        paraphrase=(
            "I am glad to inform you that that Government has withdrawn its objections to the "
            "validity of our title to Louisiana, although its exact limits remain to be "
            "settled. We delivered the stock created under the convention of Paris, and the "
            "Government of France has formally acknowledged that the stipulation was "
            "fulfilled."
        ),
        heavy=(
            "The European court that questioned whether we truly own the vast western land "
            "we bought has given up its complaint, though the borders are still to be agreed. "
            "We handed over the bonds promised in the purchase treaty, and the seller has "
            "confirmed in writing that we kept our side of the bargain."
        ),
        topic=(
            "Settlers are moving into the new territory along the rivers, and the posts at "
            "its edges have been strengthened. An expedition has gone up the great river of "
            "the north-west to learn the country and its peoples and to find a route to the "
            "western ocean."
        ),
    ),
    Planted(
        source_id="1966-Johnson-1/p99",
        verbatim=(
            "I will also propose the International Health Act of 1966 to strike at disease by "
            "a new effort to bring modern skills and knowledge to the uncared-for, those "
            "suffering in the world"
        ),
        paraphrase=(
            "I will propose the International Health Act of 1966, a new effort to bring "
            "modern skills and knowledge to the uncared-for who suffer around the world. It "
            "would try to wipe out smallpox and malaria and control yellow fever within the "
            "decade, and help countries that want to slow population growth."
        ),
        heavy=(
            "A new law will carry our doctors' know-how to the sick and neglected of poorer "
            "lands. Within ten years we aim to end two great killing fevers and curb a third, "
            "and we will fund research for nations that want to have smaller families."
        ),
        topic=(
            "Medical care for the aged under social security begins this year, and we will "
            "build more hospitals and train more nurses. No American should be denied "
            "treatment because he is old or poor or lives far from a city."
        ),
    ),
    Planted(
        source_id="1902-Roosevelt-1/p29",
        verbatim=(
            "The Congress has wisely provided that we shall build at once an isthmian canal, "
            "if possible at Panama. The Attorney-General reports that we can undoubtedly "
            "acquire good title from the French Panama Canal Company."
        ),
        paraphrase=(
            "Congress has wisely provided for building an isthmian canal at once, at Panama "
            "if possible, and the Attorney-General says we can acquire good title from the "
            "French Panama Canal Company. We are negotiating with Colombia for her assent. "
            "The canal will be one of the greatest engineering feats in history."
        ),
        heavy=(
            "The lawmakers have chosen well in ordering a waterway cut through the narrow "
            "neck of land between the oceans. Our chief law officer finds we can buy the "
            "rights of the foreign firm that began it, talks with the country that owns the "
            "ground are under way, and no greater piece of building will have been done."
        ),
        topic=(
            "A navy on two oceans needs a short passage between them. Our warships now sail "
            "around the whole of South America to go from one coast to the other, a voyage "
            "of months that leaves each coast exposed while the fleet is away."
        ),
    ),
    Planted(
        source_id="1962-Kennedy-1/p77",
        verbatim=(
            "With the approval of this Congress, we have undertaken in the past year a great "
            "new effort in outer space. Our aim is not simply to be first on the moon, any "
            "more than Charles Lindbergh's real aim was to be the first to Paris."
        ),
        paraphrase=(
            "With this Congress's approval we began a great new effort in outer space last "
            "year. Being first on the moon is not our only aim, just as Charles Lindbergh did "
            "not fly only to be the first to Paris; we want to open a new frontier of "
            "science, commerce and cooperation for the Free World."
        ),
        heavy=(
            "You agreed last year to a bold push beyond the sky. Landing a man up there first "
            "is not the whole point, any more than the lone flyer who crossed the sea in his "
            "small plane only wanted to win a race; we want our science, trade and partners "
            "to lead in a new field."
        ),
        topic=(
            "Weather satellites now watch storms from orbit, and soon satellites will carry "
            "telephone calls and television across the oceans. These are the first fruits of "
            "our rocket program, and they should be shared with every nation."
        ),
    ),
    Planted(
        source_id="1905-Roosevelt-1/p86",
        verbatim=(
            "The most characteristic animal of the Western plains was the great, shaggy-maned "
            "wild ox, the bison, commonly known as buffalo."
        ),
        paraphrase=(
            "The great, shaggy-maned wild ox of the Western plains, the bison or buffalo, "
            "was their most characteristic animal. Only small herds remain, a few of them in "
            "the Yellowstone Park, and a herd like the one on the Flat-head Reservation "
            "should be preserved on a reservation or forest reserve."
        ),
        heavy=(
            "The huge maned beast that once covered the grasslands beyond the Mississippi is "
            "nearly gone; only scattered bands survive, some in our first national park. One "
            "herd on a tribal reserve in the north-west should be kept alive on public land, "
            "and its hides would even pay."
        ),
        topic=(
            "Our forests are being cut faster than they grow. The forest reserves should be "
            "enlarged and managed by trained men, so that timber, water and grazing are kept "
            "for the settlers of the future and not used up in one generation."
        ),
    ),
    Planted(
        source_id="1866-Johnson-1/p30",
        verbatim=(
            "The entire success of the Atlantic telegraph between the coast of Ireland and "
            "the Province of Newfoundland is an achievement which has been justly celebrated "
            "in both hemispheres"
        ),
        paraphrase=(
            "The complete success of the Atlantic telegraph from the coast of Ireland to the "
            "Province of Newfoundland has rightly been celebrated in both hemispheres as a "
            "new era of civilization. A line of telegraph through Kamchatka and the Russian "
            "possessions in America may connect the two continents across the Pacific."
        ),
        heavy=(
            "The wire laid under the ocean from the Irish shore to the British colony off "
            "Canada now works, and the whole world has cheered it. A second line is planned "
            "through the Tsar's lands in Siberia and on his American territory to join Asia "
            "to our own continent."
        ),
        topic=(
            "The railroad to the Pacific is being pushed forward from both ends. When it is "
            "finished, goods and travellers will cross the continent in days instead of "
            "months, and the mines and farms of the West will be joined to the markets of "
            "the East."
        ),
    ),
    Planted(
        source_id="1971-Nixon-1/p38",
        verbatim=(
            "I will also ask for an appropriation of an extra $100 million to launch an "
            "intensive campaign to find a cure for cancer, and I will ask later for whatever "
            "additional funds can effectively be used."
        ),
        paraphrase=(
            "I will ask for an extra $100 million to launch an intensive campaign for a cure "
            "for cancer, and later for whatever more can effectively be used. The effort that "
            "split the atom and took man to the moon should now be turned toward conquering "
            "this dread disease, a total national commitment."
        ),
        heavy=(
            "I want a large new sum of money for a concentrated drive to defeat the disease "
            "that kills so many of our people, and more later if it can be spent well. The "
            "kind of push that mastered nuclear physics and landed astronauts should now go "
            "to medicine."
        ),
        topic=(
            "Heart disease and stroke still take more lives than any other cause. We will "
            "expand research at the National Institutes of Health and train more doctors, "
            "and every family should be able to afford the care that science now makes "
            "possible."
        ),
    ),
    Planted(
        source_id="1999-Clinton-1/p99",
        verbatim=(
            "Today, we're restoring the Florida Everglades, saving Yellowstone, preserving "
            "the red rock canyons of Utah, protecting California's redwoods and our precious "
            "coasts."
        ),
        paraphrase=(
            "We are restoring the Florida Everglades, saving Yellowstone, preserving Utah's "
            "red rock canyons and protecting California's redwoods and our precious coasts. "
            "But global warming is our most fateful new challenge: 1998 was the warmest year "
            "ever recorded, and last year's heat waves and floods are a warning."
        ),
        heavy=(
            "We are bringing back the southern wetlands, guarding the oldest national park, "
            "keeping the desert gorges of the West and the giant trees of the Pacific coast "
            "safe. Yet a hotter planet is the gravest danger ahead: no year was ever hotter "
            "than the last, and its storms were only a foretaste."
        ),
        topic=(
            "Clean air and clean water are rights every family should have. We have cut the "
            "soot from power plants, cleaned up hundreds of toxic waste sites, and we will "
            "keep polluters from dumping into the rivers our children swim in."
        ),
    ),
    Planted(
        source_id="1874-Grant-1/p36",
        verbatim=(
            "Extensive and much-needed soundings have been made for hydrographic purposes and "
            "to fix the proper routes of ocean telegraphs."
        ),
        paraphrase=(
            "Much has been done this year for science and general knowledge. Extensive "
            "soundings have been made for hydrographic purposes and to fix the routes of "
            "ocean telegraphs, the Isthmus has been surveyed, and two Navy vessels are "
            "observing the transit of Venus with England, France, Germany, and Russia."
        ),
        heavy=(
            "Our ships have measured the depth of the sea in many places, both for charts "
            "and to lay cables along the best lines. The narrow land between the Americas was "
            "mapped, and two warships join four European nations in watching a planet cross "
            "the face of the sun."
        ),
        topic=(
            "The Coast Survey has charted more of our shores and harbours, and the Naval "
            "Observatory has published new tables of the stars for the use of navigators. "
            "These works cost little and save ships and lives at sea."
        ),
    ),
    Planted(
        source_id="2003-Bush-1/p43",
        verbatim=(
            "As we fight this war, we will remember where it began: Here, in our own country. "
            "This Government is taking unprecedented measures to protect our people and "
            "defend our homeland."
        ),
        paraphrase=(
            "While we fight this war we will remember that it began here, in our own "
            "country, and this Government is taking unprecedented measures to defend our "
            "homeland. We have posted more than 50,000 newly trained screeners in airports "
            "and begun inoculating troops and first-responders against smallpox."
        ),
        heavy=(
            "We will not forget that the conflict started on our own soil, and never before "
            "has Washington done so much to keep citizens safe at home: tens of thousands of "
            "new guards check travellers at terminals, and soldiers and emergency crews are "
            "being vaccinated against an old plague."
        ),
        topic=(
            "Our intelligence agencies must share what they know with each other and with "
            "local police. A single department now guards our borders, coasts and "
            "transport, and it will have the tools it needs to stop attacks before they "
            "happen."
        ),
    ),
    Planted(
        source_id="1935-Roosevelt-1/p20",
        verbatim=(
            "Closely related to the broad problem of livelihood is that of security against "
            "the major hazards of life."
        ),
        paraphrase=(
            "Security against the major hazards of life is closely related to the broad "
            "problem of livelihood, and a survey of many Nations and States shows the time "
            "has come for the national Government to act. I shall soon send recommendations "
            "on unemployment insurance, old age insurance and benefits for children and "
            "mothers."
        ),
        heavy=(
            "Earning a living goes hand in hand with being protected from life's great "
            "misfortunes. What other countries and our own states have tried shows that "
            "Washington must now step in; my proposals will cover people out of work, the "
            "elderly, the young, the disabled, and the sick."
        ),
        topic=(
            "Millions are still out of work, and relief alone cannot be the answer. Public "
            "works that build roads, dams and schools give men wages instead of a dole, and "
            "they leave the country richer than they found it."
        ),
    ),
)
